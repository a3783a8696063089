/**
 * The few DER (ASN.1 distinguished encoding) shapes an X.509 certificate needs, enough for
 * `certificates.ts` to write one. Every function returns the complete encoding (tag, length,
 * content) of one value.
 */

const encodeLength = (length: number): Buffer => {
  if (length < 0x80) return Buffer.from([length])
  const bytes: Array<number> = []
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content])

export const sequence = (...items: ReadonlyArray<Buffer>): Buffer => tlv(0x30, Buffer.concat(items))
export const set = (...items: ReadonlyArray<Buffer>): Buffer => tlv(0x31, Buffer.concat(items))
export const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]))
export const octetString = (content: Buffer): Buffer => tlv(0x04, content)
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, "utf8"))

/** A non-negative INTEGER from its big-endian magnitude (a leading zero keeps it positive). */
export const unsignedInteger = (magnitude: Buffer): Buffer => {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const trimmed = magnitude.subarray(start)
  return tlv(0x02, (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}

export const smallInteger = (value: number): Buffer => unsignedInteger(Buffer.from([value]))

/** A BIT STRING whose last `unusedBits` bits of the final byte are padding. */
export const bitString = (content: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]))

export const objectIdentifier = (dotted: string): Buffer => {
  const arcs = dotted.split(".").map(Number)
  const bytes: Array<number> = [40 * arcs[0]! + arcs[1]!]
  for (const arc of arcs.slice(2)) {
    const base128: Array<number> = [arc % 128]
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) base128.unshift(0x80 | (rest % 128))
    bytes.push(...base128)
  }
  return tlv(0x06, Buffer.from(bytes))
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), always to the second in UTC. */
export const time = (at: Date): Buffer => {
  const iso = at.toISOString() // 2026-12-02T04:33:16.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "")
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, "ascii")) : tlv(0x18, Buffer.from(`${digits}Z`, "ascii"))
}

/** `[n] EXPLICIT` around a complete encoding. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner)

/** `[n] IMPLICIT` primitive content (used for GeneralName choices and key identifiers). */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content)
