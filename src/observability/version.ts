/**
 * The operator's version, from its package.json (the file the image ships at /app), found by
 * walking up from this module: src/ under tsx, or a bundle chunk under dist/src/cli/.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Either, Option, Schema } from "effect"

const OwnPackage = Schema.parseJson(Schema.Struct({ name: Schema.Literal("vworkspace-operator"), version: Schema.String }))

const versionIn = (dir: string): Option.Option<string> =>
  Either.try(() => readFileSync(path.join(dir, "package.json"), "utf8")).pipe(
    Either.flatMap((text) => Schema.decodeUnknownEither(OwnPackage)(text)),
    Either.map((p) => p.version),
    Either.getRight
  )

const read = (): string => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const found = versionIn(dir)
    if (Option.isSome(found)) return found.value
    if (path.dirname(dir) === dir) return "unknown"
  }
}

export const operatorVersion: string = read()
