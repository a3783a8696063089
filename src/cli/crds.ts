/**
 * `vworkspace-operator crds`: writes the generated CRDs (schema/crds and the chart's crds/) and the
 * agent protocol JSON Schemas (schema/agent-protocol) from the effect/Schema definitions.
 * `--check` writes nothing and fails when the committed files differ.
 */
import { Command, Options } from "@effect/cli"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Console, Data, Effect } from "effect"
import type { GeneratedFile } from "../api/crdGen.js"

// The generator (every schema, and yaml) is loaded only when this command runs, not by `run`.
const generator = Effect.promise(() => import("../api/crdGen.js"))

export interface Drift {
  readonly path: string
  readonly problem: "missing" | "different" | "stale"
}

export class GeneratedFilesDrift extends Data.TaggedError("GeneratedFilesDrift")<{
  readonly drifts: ReadonlyArray<Drift>
}> {
  override get message(): string {
    return `generated files are out of date (${this.drifts
      .map((d) => `${d.path}: ${d.problem}`)
      .join(", ")}); run \`npm run crds\` and commit the result`
  }
}

const isGeneratedName = (name: string): boolean => name.endsWith(".yaml") || name.endsWith(".json")

/** Compares the generated files with what is on disk under `root`. */
export const findDrift = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { generateAll, generatedDirs } = yield* generator
    const files = yield* generateAll
    const expected = new Set(files.map((f) => f.path))
    const drifts: Array<Drift> = []
    for (const file of files) {
      const full = path.join(root, file.path)
      if (!(yield* fs.exists(full))) drifts.push({ path: file.path, problem: "missing" })
      else if ((yield* fs.readFileString(full)) !== file.content) drifts.push({ path: file.path, problem: "different" })
    }
    for (const dir of generatedDirs) {
      const full = path.join(root, dir)
      if (!(yield* fs.exists(full))) continue
      for (const name of yield* fs.readDirectory(full)) {
        const rel = `${dir}/${name}`
        if (isGeneratedName(name) && !expected.has(rel)) drifts.push({ path: rel, problem: "stale" })
      }
    }
    return drifts
  })

const writeFile = (root: string, file: GeneratedFile) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const full = path.join(root, file.path)
    yield* fs.makeDirectory(path.dirname(full), { recursive: true })
    yield* fs.writeFileString(full, file.content)
  })

/** Writes every generated file under `root` and removes stale ones from the generated directories. */
export const writeGenerated = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { generateAll, generatedDirs } = yield* generator
    const files = yield* generateAll
    for (const file of files) yield* writeFile(root, file)
    const expected = new Set(files.map((f) => f.path))
    for (const dir of generatedDirs) {
      for (const name of yield* fs.readDirectory(path.join(root, dir))) {
        const rel = `${dir}/${name}`
        if (isGeneratedName(name) && !expected.has(rel)) yield* fs.remove(path.join(root, rel))
      }
    }
    return files
  })

const check = Options.boolean("check").pipe(
  Options.withDescription("Write nothing; fail when the committed generated files differ.")
)
const root = Options.directory("root").pipe(
  Options.withDefault("."),
  Options.withDescription("Repository root to write into.")
)

export const crdsCommand = Command.make("crds", { check, root }, ({ check, root }) =>
  check
    ? Effect.flatMap(findDrift(root), (drifts) =>
        drifts.length === 0
          ? Console.log("generated files are up to date")
          : Effect.fail(new GeneratedFilesDrift({ drifts }))
      )
    : Effect.flatMap(writeGenerated(root), (files) =>
        Effect.forEach(files, (f) => Console.log(`wrote ${f.path}`), { discard: true })
      )
).pipe(Command.withDescription("Generate the CRDs and the agent protocol JSON Schemas from src/api."))
