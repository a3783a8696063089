/** The operator's version, from its package.json (the same file the image ships). */
import { readFileSync } from "node:fs"
import { Either, Schema } from "effect"

const PackageVersion = Schema.parseJson(Schema.Struct({ version: Schema.String }))

const read = (): string => {
  const text = Either.try(() => readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
  return Either.isRight(text)
    ? Either.getOrElse(Either.map(Schema.decodeUnknownEither(PackageVersion)(text.right), (p) => p.version), () => "unknown")
    : "unknown"
}

export const operatorVersion: string = read()
