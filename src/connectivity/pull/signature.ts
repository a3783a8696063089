/**
 * Detached Ed25519 signatures over the canonical JSON of a job's payload (DESIGN.md item 7). The
 * public key is PEM (SPKI) or the raw 32-byte key in base64; the signature is base64 or base64url.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto"
import { Data, Either } from "effect"
import { canonicalJson } from "./canonicalJson.js"

export class SigningKeyInvalid extends Data.TaggedError("SigningKeyInvalid")<{ readonly message: string }> {}

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32 key bytes follow it. */
const ed25519SpkiPrefix = Buffer.from("302a300506032b6570032100", "hex")

export const parsePublicKey = (text: string): Either.Either<KeyObject, SigningKeyInvalid> => {
  const trimmed = text.trim()
  try {
    const key = trimmed.startsWith("-----BEGIN")
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.concat([ed25519SpkiPrefix, Buffer.from(trimmed, "base64")]), format: "der", type: "spki" })
    return key.asymmetricKeyType === "ed25519"
      ? Either.right(key)
      : Either.left(new SigningKeyInvalid({ message: `the signing key is ${key.asymmetricKeyType ?? "unknown"}, not ed25519` }))
  } catch (e) {
    return Either.left(new SigningKeyInvalid({ message: `the signing key cannot be read: ${e instanceof Error ? e.message : String(e)}` }))
  }
}

/** Why a job's signature does not hold, or undefined when it does. */
export const signatureProblem = (key: KeyObject, payload: unknown, signature: string | undefined): string | undefined => {
  if (signature === undefined || signature.trim() === "") return "the job is not signed"
  const bytes = Buffer.from(signature.trim().replace(/-/g, "+").replace(/_/g, "/"), "base64")
  if (bytes.length !== 64) return "the signature is not a 64-byte Ed25519 signature"
  try {
    return verify(null, Buffer.from(canonicalJson(payload), "utf8"), key, bytes) ? undefined : "the signature does not match the payload"
  } catch (e) {
    return `the signature cannot be checked: ${e instanceof Error ? e.message : String(e)}`
  }
}
