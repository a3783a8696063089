/**
 * Canonical JSON for payload signatures, after RFC 8785 (JCS): object keys sorted by UTF-16 code
 * units, no whitespace, strings and numbers as `JSON.stringify` writes them (which is what JCS
 * prescribes for ECMAScript). The signer must produce the same bytes: docs/connectivity/job-protocol.md.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value)
    // undefined, functions and symbols have no JSON form; payloads decoded from JSON never hold them.
    return text === undefined ? "null" : text
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
}
