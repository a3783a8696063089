/**
 * A Helm chart repository on loopback: `index.yaml` plus one packaged chart that renders only a
 * ConfigMap (so it is Ready without nodes). The archive is packed with `tar`, the index written by
 * hand with the chart's digest, as `helm repo index` would.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface ChartRepository {
  readonly url: string
  readonly chart: { readonly name: string; readonly version: string }
  readonly requests: () => ReadonlyArray<string>
  readonly stop: () => Promise<void>
}

const packChart = (dir: string, name: string, version: string): Buffer => {
  const root = join(dir, name)
  mkdirSync(join(root, "templates"), { recursive: true })
  writeFileSync(join(root, "Chart.yaml"), `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: e2e chart\n`)
  writeFileSync(join(root, "values.yaml"), "greeting: hello\n")
  writeFileSync(
    join(root, "templates", "configmap.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"
  )
  const archive = join(dir, `${name}-${version}.tgz`)
  execFileSync("tar", ["-czf", archive, "-C", dir, name])
  return readFileSync(archive)
}

export const startChartRepository = async (name = "e2e-demo", version = "1.0.0"): Promise<ChartRepository> => {
  const dir = mkdtempSync(join(tmpdir(), "vws-charts-"))
  const archive = packChart(dir, name, version)
  const requests: Array<string> = []
  let base = ""
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "")
    if (req.url === "/index.yaml") {
      const digest = createHash("sha256").update(archive).digest("hex")
      res.writeHead(200, { "content-type": "application/x-yaml" })
      res.end(
        [
          "apiVersion: v1",
          "entries:",
          `  ${name}:`,
          "  - apiVersion: v2",
          `    name: ${name}`,
          `    version: ${version}`,
          "    created: 2026-12-01T00:00:00Z",
          `    digest: ${digest}`,
          "    urls:",
          `    - ${base}/${name}-${version}.tgz`,
          "generated: 2026-12-01T00:00:00Z",
          ""
        ].join("\n")
      )
    } else if (req.url === `/${name}-${version}.tgz`) {
      res.writeHead(200, { "content-type": "application/gzip" })
      res.end(archive)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`
  return {
    url: base,
    chart: { name, version },
    requests: () => requests,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
