import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Duration, Effect, Schedule, Schema } from "effect"
import { parseAllDocuments } from "yaml"
import { ensureHelmControllerCrds } from "./binaries.js"
import { type ApiRequestFailed, type ApiStatusError, type CommandFailed, CrdInstallFailed, errorMessage } from "./errors.js"
import { type ApiTarget, requestJson } from "./http.js"
import { runCommand } from "./process.js"
import { repoRoot } from "./paths.js"
import { THIRD_PARTY_CRD_MODULES } from "./versions.js"

/** One CustomResourceDefinition read from a YAML file. */
export interface CrdDoc {
  readonly name: string
  readonly source: string
  readonly body: Readonly<Record<string, unknown>>
}

const CrdHeader = Schema.Struct({
  apiVersion: Schema.Literal("apiextensions.k8s.io/v1"),
  kind: Schema.Literal("CustomResourceDefinition"),
  metadata: Schema.Struct({ name: Schema.String })
})
const isCrd = Schema.is(CrdHeader)

/** Every CRD in the *.yaml / *.yml files directly inside `dir` (or only `files` of them); other kinds are ignored. */
export const readCrdDir = (dir: string, files?: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<CrdDoc>, CrdInstallFailed> =>
  Effect.try({
    try: () =>
      fs
        .readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f) && (files === undefined || files.includes(f)))
        .sort()
        .flatMap((f) => {
          const file = path.join(dir, f)
          return parseAllDocuments(fs.readFileSync(file, "utf8")).flatMap((doc) => {
            if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? "invalid YAML"}`)
            const body: unknown = doc.toJS()
            if (!isCrd(body)) return []
            // Old generators emit an empty `status`; the server owns it.
            const { status: _status, ...rest } = body as Record<string, unknown>
            return [{ name: body.metadata.name, source: file, body: rest }]
          })
        }),
    catch: (e) => new CrdInstallFailed({ message: `cannot read CRDs from ${dir}: ${errorMessage(e)}` })
  })

const ModuleDownload = Schema.parseJson(Schema.Struct({ Dir: Schema.String }))

/** The module cache folder of `module@version`, downloaded through the Go module proxy if needed. */
export const goModuleDir = (module: string, version: string): Effect.Effect<string, CommandFailed | CrdInstallFailed> =>
  runCommand("go", ["mod", "download", "-json", `${module}@${version}`], {
    // Outside any go.mod, so the repo's (or a parent's) module settings play no part.
    cwd: os.tmpdir(),
    timeout: Duration.minutes(5)
  }).pipe(
    Effect.flatMap((out) => Schema.decodeUnknown(ModuleDownload)(out)),
    Effect.map((m) => m.Dir),
    Effect.mapError((e) =>
      e._tag === "CommandFailed" ? e : new CrdInstallFailed({ message: `go mod download ${module}@${version}: ${e.message}` })
    )
  )

/** Flux, Velero, Argo Workflows, VolSync, CSI snapshot and the ServiceMonitor CRDs from their Go modules. */
export const thirdPartyCrds: Effect.Effect<ReadonlyArray<CrdDoc>, CommandFailed | CrdInstallFailed> = Effect.gen(
  function* () {
    const fromModules = yield* Effect.forEach(
      THIRD_PARTY_CRD_MODULES,
      (m) =>
        Effect.flatMap(goModuleDir(m.module, m.version), (dir) =>
          Effect.forEach(m.dirs, (sub) => readCrdDir(path.join(dir, sub), m.files))
        ),
      { concurrency: 3 }
    )
    const helm = yield* Effect.flatMap(ensureHelmControllerCrds, readCrdDir)
    return [...fromModules.flat(2), ...helm]
  }
)

/** The project's own CRDs from schema/crds/, or none while that folder does not exist yet. */
export const projectCrds = (dir: string = path.join(repoRoot(), "schema", "crds")): Effect.Effect<ReadonlyArray<CrdDoc>, CrdInstallFailed> =>
  fs.existsSync(dir) ? readCrdDir(dir) : Effect.succeed([])

const FIELD_MANAGER = "vworkspace-dev-cluster"

const CrdStatus = Schema.Struct({
  status: Schema.optional(
    Schema.Struct({
      conditions: Schema.optional(Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String, message: Schema.optional(Schema.String) })))
    })
  )
})

const crdPath = (name: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`

/** Server-side applies one CRD (forcing ownership: the harness is the only writer). */
const applyCrd = (target: ApiTarget, crd: CrdDoc): Effect.Effect<unknown, ApiRequestFailed | ApiStatusError> =>
  requestJson(target, {
    method: "PATCH",
    path: `${crdPath(crd.name)}?fieldManager=${FIELD_MANAGER}&force=true`,
    body: JSON.stringify(crd.body),
    contentType: "application/apply-patch+yaml",
    timeout: Duration.seconds(60)
  }).pipe(
    // A fresh API server can still be installing its own CRD storage; 5xx and transport errors pass.
    Effect.retry({
      schedule: Schedule.exponential(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(6))),
      while: (e) => e._tag === "ApiRequestFailed" || e.status >= 500 || e.status === 429
    })
  )

/** Polls until the CRD reports Established=True, or fails after `deadline`. */
export const waitEstablished = (
  target: ApiTarget,
  name: string,
  deadline: Duration.DurationInput = Duration.seconds(60)
): Effect.Effect<void, CrdInstallFailed> => {
  let last = "no answer yet"
  const check = requestJson(target, { method: "GET", path: crdPath(name), timeout: Duration.seconds(10) }).pipe(
    Effect.flatMap(Schema.decodeUnknown(CrdStatus)),
    Effect.flatMap((crd) => {
      const conditions = crd.status?.conditions ?? []
      if (conditions.some((c) => c.type === "Established" && c.status === "True")) return Effect.void
      last = conditions.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`).join(", ") || "no conditions"
      return Effect.fail(null)
    }),
    Effect.tapError((e) =>
      Effect.sync(() => {
        if (e !== null) last = e.message
      })
    )
  )
  return check.pipe(
    Effect.retry(Schedule.spaced(Duration.millis(100))),
    Effect.timeout(deadline),
    Effect.mapError(
      () => new CrdInstallFailed({ message: `CRD ${name} not Established within ${Duration.format(Duration.decode(deadline))}: ${last}` })
    )
  )
}

/**
 * Applies every CRD, then waits until all are Established. Applying all before waiting lets the
 * API server set up their storage concurrently.
 */
export const applyCrds = (
  target: ApiTarget,
  crds: ReadonlyArray<CrdDoc>
): Effect.Effect<void, CrdInstallFailed> =>
  Effect.forEach(
    crds,
    (crd) =>
      applyCrd(target, crd).pipe(
        Effect.mapError((e) => new CrdInstallFailed({ message: `applying CRD ${crd.name} from ${crd.source}: ${e.message}` }))
      ),
    { concurrency: 8, discard: true }
  ).pipe(Effect.zipRight(Effect.forEach(crds, (crd) => waitEstablished(target, crd.name), { concurrency: 8, discard: true })))

/** The project's CRDs (if generated yet) plus all third-party CRDs. */
export const allCrds = (
  options: { readonly projectCrdDir?: string } = {}
): Effect.Effect<ReadonlyArray<CrdDoc>, CommandFailed | CrdInstallFailed> =>
  Effect.map(Effect.all([projectCrds(options.projectCrdDir), thirdPartyCrds], { concurrency: 2 }), ([own, third]) => [
    ...own,
    ...third
  ])

/** Applies `crds` (default: all of them) and waits until they are Established; returns their names. */
export const installAllCrds = (
  target: ApiTarget,
  crds?: ReadonlyArray<CrdDoc>
): Effect.Effect<ReadonlyArray<string>, CommandFailed | CrdInstallFailed> =>
  Effect.gen(function* () {
    const all = crds ?? (yield* allCrds())
    yield* applyCrds(target, all)
    return all.map((c) => c.name)
  })
