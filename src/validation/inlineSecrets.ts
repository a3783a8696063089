/**
 * Refuses secret material in `spec.values.inline` (spec/api.md §7.2.3): inline values end up in
 * the HelmRelease spec, readable by anyone who can read HelmReleases. Credentials belong in a
 * Secret referenced through `values.source: secretRef`.
 *
 * Every object member whose value is a non-blank string (not an `<set via externalsecret>`
 * placeholder) is checked: keys ending in `password` or `secret`, keys that are exactly
 * `accesskey`, `secretkey`, `apikey` or `token` (case-insensitive), and PEM private keys under any
 * key. The first hit in document order is reported, with its dotted path.
 *
 * Keys that name an existing Secret (`existingSecret`, `existingSecretName`: any key starting
 * with `existing`) are references, the very thing charts offer instead of inline credentials, and
 * are allowed (a deliberate difference from the original, which rejected them by their suffix).
 */
const placeholders = new Set(["<set via externalsecret>", "<set via external-secret>"])
const exactKeys = new Set(["accesskey", "secretkey", "apikey", "token"])
const pemPrivateKey = /^-----BEGIN .*PRIVATE KEY-----/

const problem = (key: string, value: string): string | undefined => {
  const trimmed = value.trim()
  if (trimmed === "" || placeholders.has(trimmed.toLowerCase())) return undefined
  const k = key.toLowerCase()
  const reference = k.startsWith("existing")
  if (!reference && (k.endsWith("password") || k.endsWith("secret") || exactKeys.has(k))) return "use secretRef or configMapRef"
  if (pemPrivateKey.test(trimmed)) return "PEM private key not allowed inline"
  return undefined
}

export const findInlineSecret = (values: unknown, path = ""): string | undefined => {
  if (Array.isArray(values)) {
    for (const [i, item] of values.entries()) {
      if (typeof item === "object" && item !== null) {
        const hit = findInlineSecret(item, `${path}[${i}]`)
        if (hit !== undefined) return hit
      }
    }
    return undefined
  }
  if (typeof values !== "object" || values === null) return undefined
  for (const [key, value] of Object.entries(values)) {
    const here = path === "" ? key : `${path}.${key}`
    if (typeof value === "string") {
      const why = problem(key, value)
      if (why !== undefined) return `inline secret material rejected at "${here}": ${why}`
    } else {
      const hit = findInlineSecret(value, here)
      if (hit !== undefined) return hit
    }
  }
  return undefined
}
