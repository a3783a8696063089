/**
 * The real `helm` CLI for tests, built from its Go module by `scripts/build-k8s.sh helm` and cached
 * like kube-apiserver: tests render and lint the chart with what users run.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Schema } from "effect"
import YAML from "yaml"

export const chartDir = path.join(import.meta.dirname, "../../charts/vworkspace-operator")
const repoRoot = path.join(import.meta.dirname, "../..")

/** A `helm` command that failed; `message` is helm's own error text (what a user sees). */
export class HelmError extends Error {
  override readonly name = "HelmError"
}

let binary: string | undefined
/** The helm binary's path (built on first use when the cache lacks it). */
export const helmBinary = (): string => {
  binary ??= execFileSync("bash", [path.join(repoRoot, "scripts/build-k8s.sh"), "helm"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
  return binary
}

/** Runs helm with `args`; throws HelmError with helm's stderr when it exits non-zero. */
export const helm = (args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(helmBinary(), args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
      // Keep helm's own state (repositories, cache) out of the user's home.
      env: { ...process.env, HELM_CONFIG_HOME: helmHome("config"), HELM_CACHE_HOME: helmHome("cache"), HELM_DATA_HOME: helmHome("data") }
    })
  } catch (error) {
    const stderr = error instanceof Error && "stderr" in error ? String(error.stderr) : String(error)
    throw new HelmError(stderr.trim())
  }
}

const helmHome = (part: string) => path.join(os.tmpdir(), "vworkspace-helm-home", part)

export interface RenderOptions {
  readonly releaseName: string
  readonly namespace: string
  /** Merged over values.yaml, as `helm install -f` does. */
  readonly values?: Record<string, unknown>
  /** `--kube-version` (default: the test cluster's). */
  readonly kubeVersion?: string
  /** `--api-versions`, e.g. "monitoring.coreos.com/v1" to render what needs that API. */
  readonly apiVersions?: ReadonlyArray<string>
}

export interface RenderedChart {
  /** Rendered text per template file (name relative to templates/). */
  readonly files: ReadonlyMap<string, string>
  /** Every non-empty YAML document, in helm's output order. */
  readonly objects: ReadonlyArray<Record<string, unknown>>
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Writes `values` to a temporary file for `-f`; the caller removes the directory. */
export const withValuesFile = <A>(values: Record<string, unknown>, use: (file: string) => A): A => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vworkspace-values-"))
  try {
    const file = path.join(dir, "values.yaml")
    fs.writeFileSync(file, YAML.stringify(values))
    return use(file)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The flags `helm template` and `helm lint` share. */
const commonFlags = (options: Omit<RenderOptions, "apiVersions">, valuesFile: string): ReadonlyArray<string> => [
  "--namespace",
  options.namespace,
  "--kube-version",
  options.kubeVersion ?? "v1.36.3",
  "-f",
  valuesFile
]

/** `helm template` of the chart; throws HelmError (with helm's message) when rendering fails. */
export const renderChart = (options: RenderOptions): RenderedChart =>
  withValuesFile(options.values ?? {}, (valuesFile) =>
    parseManifest(
      helm([
        "template",
        options.releaseName,
        chartDir,
        ...commonFlags(options, valuesFile),
        ...(options.apiVersions ?? []).flatMap((v) => ["--api-versions", v])
      ])
    )
  )

/** Splits helm's multi-document output into files and objects. */
const parseManifest = (output: string): RenderedChart => {
  const files = new Map<string, string>()
  const objects: Array<Record<string, unknown>> = []
  const prefix = `${path.basename(chartDir)}/templates/`
  // helm separates documents with "---" and names each one's template in a "# Source:" line.
  for (const text of output.split(/^---\s*$/m)) {
    const source = /^# Source: (\S+)/m.exec(text)?.[1]
    if (source === undefined) continue
    const name = source.startsWith(prefix) ? source.slice(prefix.length) : source
    files.set(name, (files.has(name) ? `${files.get(name)}---\n` : "") + text.trimStart())
    const doc = YAML.parseDocument(text)
    if (doc.errors.length > 0) throw new HelmError(`helm printed invalid YAML in ${name}: ${doc.errors[0]!.message}`)
    const value: unknown = doc.toJS()
    if (isRecord(value)) objects.push(value)
  }
  return { files, objects }
}

/**
 * `helm lint` of the chart with `values` (`--strict` when asked): its output, or HelmError. helm
 * lint reports a template's `fail` as INFO only, so render with renderChart to test those.
 */
export const lintChart = (options: Omit<RenderOptions, "apiVersions"> & { readonly strict?: boolean }): string =>
  withValuesFile(options.values ?? {}, (valuesFile) =>
    helm(["lint", chartDir, ...(options.strict === true ? ["--strict"] : []), ...commonFlags(options, valuesFile)])
  )

const DryRunRelease = Schema.parseJson(
  Schema.Struct({ manifest: Schema.String, info: Schema.Struct({ notes: Schema.optionalWith(Schema.String, { default: () => "" }) }) })
)

export interface InstallDryRun extends RenderedChart {
  /** templates/NOTES.txt as `helm install` prints it. */
  readonly notes: string
}

/**
 * `helm install --dry-run=client` against the cluster of `kubeconfig`: the manifests and the
 * rendered NOTES.txt, which `helm template` never renders. helm v3 reads the cluster's version and
 * API groups even in client mode (helm/helm#13144), so this needs a reachable API server; nothing
 * is installed.
 */
export const installDryRun = (
  options: Omit<RenderOptions, "kubeVersion" | "apiVersions"> & { readonly kubeconfig: string }
): InstallDryRun =>
  withValuesFile(options.values ?? {}, (valuesFile) => {
    const out = helm([
      "install",
      options.releaseName,
      chartDir,
      "--dry-run=client",
      "--output",
      "json",
      "--kubeconfig",
      options.kubeconfig,
      "--namespace",
      options.namespace,
      "-f",
      valuesFile
    ])
    const release = Schema.decodeUnknownSync(DryRunRelease)(out)
    return { ...parseManifest(release.manifest), notes: release.info.notes }
  })

/** Chart.yaml and values.yaml as data. */
export const chartMetadata = (): Record<string, unknown> => readYaml(path.join(chartDir, "Chart.yaml"))
export const defaultValues = (): Record<string, unknown> => readYaml(path.join(chartDir, "values.yaml"))

const readYaml = (file: string): Record<string, unknown> => {
  const doc: unknown = YAML.parse(fs.readFileSync(file, "utf8"))
  if (!isRecord(doc)) throw new HelmError(`${file}: not a YAML mapping`)
  return doc
}
