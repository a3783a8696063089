/**
 * The container image, which cannot be built here (no Docker engine): the Dockerfile is checked
 * statically (stages, base, user, entrypoint, production dependencies), and the production tree it
 * would hold is built for real (the bundled CLI plus `npm ci --omit=dev` into a temporary
 * directory) and started, which proves the image's contents run. In the integration project
 * because `npm ci` downloads packages and takes a while.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { chartDir } from "../support/helm.js"
import YAML from "yaml"

const repoRoot = path.join(import.meta.dirname, "../..")
const rec = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {})
const packageJson = rec(JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")))
const cliPath = String(rec(packageJson["bin"])["vworkspace-operator"])
// Asynchronous, so the slow steps never block the test worker.
const run = async (command: string, args: ReadonlyArray<string>, cwd: string) =>
  (await promisify(execFile)(command, args, { cwd, encoding: "utf8", timeout: 600_000, maxBuffer: 16 * 1024 * 1024 })).stdout

/** A run that should fail: its exit code and standard error. */
const runFailing = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ readonly code: number | string | undefined; readonly stderr: string }>((resolve) => {
    execFile("node", args, { cwd, encoding: "utf8", timeout: 60_000 }, (error, _stdout, stderr) => resolve({ code: error?.code ?? 0, stderr }))
  })

interface Stage {
  readonly base: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<readonly [string, string]>
}

/** The Dockerfile's stages with their instructions (comments and continuation lines folded). */
const stages = (text: string): ReadonlyArray<Stage> => {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
  const result: Array<{ base: string; name: string | undefined; instructions: Array<readonly [string, string]> }> = []
  for (const line of lines) {
    const [, keyword = "", rest = ""] = /^(\S+)\s+(.*)$/.exec(line) ?? []
    if (keyword.toUpperCase() === "FROM") {
      const [base = "", , name] = rest.split(/\s+/)
      result.push({ base, name, instructions: [] })
    } else {
      result.at(-1)?.instructions.push([keyword.toUpperCase(), rest])
    }
  }
  return result
}

describe("Dockerfile", () => {
  const dockerfile = stages(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"))
  const runtime = dockerfile.at(-1)!
  const all = (stage: Stage, keyword: string) => stage.instructions.filter(([k]) => k === keyword).map(([, v]) => v)

  it("is multi-stage on a Node LTS slim base: compile, production dependencies, runtime", () => {
    expect(dockerfile.map((s) => s.name)).toEqual(["build", "deps", "runtime"])
    for (const stage of dockerfile) {
      const major = Number(/^node:(\d+)-[a-z]+-slim$/.exec(stage.base)?.[1])
      // Even majors become LTS; 24 is the current one.
      expect(major % 2, stage.base).toBe(0)
      expect(major, stage.base).toBeGreaterThanOrEqual(24)
    }
    expect(all(dockerfile[0]!, "RUN")).toEqual(["npm ci --no-audit --no-fund", "npm run build"])
    expect(all(dockerfile[1]!, "RUN")).toEqual(["npm ci --omit=dev --no-audit --no-fund"])
  })

  it("the runtime stage holds only the production dependencies and the compiled code, and runs nothing at build time", () => {
    expect(all(runtime, "RUN")).toEqual([])
    expect(all(runtime, "COPY")).toEqual(["--from=deps /app/node_modules ./node_modules", "--from=build /app/dist/src ./dist/src", "package.json ./"])
  })

  it("runs as the non-root user the chart's runAsUser names, with the CLI as entrypoint", () => {
    const values = rec(YAML.parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8")))
    const pod = rec(values["podSecurityContext"])
    expect(all(runtime, "USER")).toEqual([`${String(pod["runAsUser"])}:${String(pod["runAsGroup"])}`])
    expect(pod["runAsUser"]).not.toBe(0)
    expect(all(runtime, "ENTRYPOINT").map((e) => JSON.parse(e) as unknown)).toEqual([["node", cliPath]])
    // The chart's Deployment passes `run` and its flags; CMD only serves a bare `docker run`.
    expect(all(runtime, "CMD").map((e) => JSON.parse(e) as unknown)).toEqual([["run"]])
    // Heap limits come from the chart's nodeOptions value, never from the image.
    expect(all(runtime, "ENV").join(" ")).not.toContain("NODE_OPTIONS")
  })

  it(".dockerignore keeps local dependencies, build output and tests out of the context", () => {
    const ignored = fs.readFileSync(path.join(repoRoot, ".dockerignore"), "utf8").split("\n").map((l) => l.trim())
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", "test", ".git"]))
  })
})

describe("the image's production tree", () => {
  it(
    "compiles, installs only production dependencies, and the CLI starts from it",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vworkspace-image-"))
      try {
        // What the build stage does (`npm run build`), written into the image layout.
        await run("npm", ["run", "build", "--", path.join(dir, "dist")], repoRoot)
        for (const file of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file))
        // What the deps stage does.
        await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], dir)
        const installed = fs.readdirSync(path.join(dir, "node_modules"))
        for (const dev of Object.keys(rec(packageJson["devDependencies"]))) expect(installed, dev).not.toContain(dev)
        expect(installed).toContain("effect")

        const help = await run("node", [path.join(dir, cliPath), "--help"], dir)
        expect(help).toContain("vworkspace-operator")
        expect(help).toMatch(/\brun\b/)
        expect(help).toMatch(/\bregister\b/)
        expect((await run("node", [path.join(dir, cliPath), "--version"], dir)).trim()).toBe(packageJson["version"])
        const runHelp = await run("node", [path.join(dir, cliPath), "run", "--help"], dir)
        expect(runHelp).toContain("--leader-elect")
        // Bad flags are refused before anything connects, with words and exit code 1.
        const cli = path.join(dir, cliPath)
        expect(await runFailing([cli, "run", "--connectivity-mode=bogus"], dir)).toEqual({
          code: 1,
          stderr: 'vworkspace-operator run: unknown connectivity mode "bogus": use one of pull, push, gitops\n'
        })
        expect(await runFailing([cli, "run", "--metrics-cert-dir=/mounted", "--metrics-secure=false"], dir)).toEqual({
          code: 1,
          stderr: "vworkspace-operator run: --metrics-cert-dir needs --metrics-secure=true (plain HTTP has no certificate)\nSee vworkspace-operator run --help\n"
        })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    900_000
  )
})
