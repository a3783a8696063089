/**
 * Self-signed certificates from node:crypto alone: a certificate authority, and serving
 * certificates it issues for the webhook and metrics endpoints. Keys are ECDSA P-256 and
 * signatures ecdsa-with-SHA256, which every TLS stack the operator meets (the API server's Go
 * client, Prometheus, Node) accepts. The functions are pure apart from key generation and the
 * random serial number; callers pass the clock.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto"
import { isIP } from "node:net"
import * as der from "./der.js"

export interface KeyAndCertificate {
  readonly certificatePem: string
  readonly privateKeyPem: string
  readonly notBefore: Date
  readonly notAfter: Date
}

export interface CertificateRequest {
  readonly commonName: string
  readonly now: Date
  /** How long the certificate is valid from `now`. */
  readonly validForMillis: number
}

export interface ServingCertificateRequest extends CertificateRequest {
  /** DNS names and IP addresses the certificate is valid for (subjectAltName). */
  readonly hosts: ReadonlyArray<string>
}

const Oid = {
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1"
} as const

/** Certificates start a little in the past so a peer whose clock lags still accepts them. */
const clockSkewMillis = 5 * 60 * 1000

const name = (commonName: string) => der.sequence(der.set(der.sequence(der.objectIdentifier(Oid.commonName), der.utf8String(commonName))))

const extension = (oid: string, critical: boolean, value: Buffer) =>
  der.sequence(der.objectIdentifier(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value))

const ipv6Bytes = (address: string): Array<number> => {
  const [head = "", tail] = address.split("::")
  const groups = (part: string) => (part === "" ? [] : part.split(":"))
  const known = [...groups(head), ...(tail === undefined ? [] : groups(tail))]
  const all = tail === undefined ? known : [...groups(head), ...Array<string>(8 - known.length).fill("0"), ...groups(tail)]
  return all.flatMap((group) => [parseInt(group, 16) >> 8, parseInt(group, 16) & 0xff])
}

/** A subjectAltName entry: dNSName [2] or iPAddress [7]. */
const generalName = (host: string): Buffer => {
  const family = isIP(host)
  if (family === 0) return der.implicitPrimitive(2, Buffer.from(host, "ascii"))
  return der.implicitPrimitive(7, Buffer.from(family === 4 ? host.split(".").map(Number) : ipv6Bytes(host)))
}

interface KeyPair {
  readonly privateKeyPem: string
  readonly spki: Buffer
  readonly keyId: Buffer
}

const newKeyPair = (): KeyPair => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
  const spki = publicKey.export({ type: "spki", format: "der" })
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    spki,
    // RFC 5280 §4.2.1.2 method 1 takes the SHA-1 of the key bits; any stable digest serves.
    keyId: createHash("sha1").update(spki).digest()
  }
}

const toPem = (derBytes: Buffer) => {
  const lines = derBytes.toString("base64").match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`
}

interface Issuer {
  readonly commonName: string
  readonly privateKeyPem: string
}

const signCertificate = (
  request: CertificateRequest,
  subjectKey: KeyPair,
  issuer: Issuer,
  extensions: ReadonlyArray<Buffer>
): KeyAndCertificate => {
  const notBefore = new Date(Math.floor((request.now.getTime() - clockSkewMillis) / 1000) * 1000)
  const notAfter = new Date(Math.floor((request.now.getTime() + request.validForMillis) / 1000) * 1000)
  const algorithm = der.sequence(der.objectIdentifier(Oid.ecdsaWithSha256))
  const serial = randomBytes(16)
  serial[0] = serial[0]! & 0x7f
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    algorithm,
    name(issuer.commonName),
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name(request.commonName),
    subjectKey.spki,
    der.explicit(3, der.sequence(...extensions))
  )
  const signature = sign("sha256", tbs, { key: createPrivateKey(issuer.privateKeyPem), dsaEncoding: "der" })
  return {
    certificatePem: toPem(der.sequence(tbs, algorithm, der.bitString(signature))),
    privateKeyPem: subjectKey.privateKeyPem,
    notBefore,
    notAfter
  }
}

/** A self-signed CA that may sign serving certificates (and nothing below them). */
export const createCertificateAuthority = (request: CertificateRequest): KeyAndCertificate => {
  const key = newKeyPair()
  return signCertificate(request, key, { commonName: request.commonName, privateKeyPem: key.privateKeyPem }, [
    extension(Oid.basicConstraints, true, der.sequence(der.boolean(true), der.smallInteger(0))),
    // digitalSignature, keyCertSign, cRLSign
    extension(Oid.keyUsage, true, der.bitString(Buffer.from([0x86]), 1)),
    extension(Oid.subjectKeyIdentifier, false, der.octetString(key.keyId))
  ])
}

/** A TLS server certificate for `hosts`, signed by `ca`. */
export const issueServingCertificate = (ca: KeyAndCertificate, request: ServingCertificateRequest): KeyAndCertificate => {
  const caCertificate = new X509Certificate(ca.certificatePem)
  const caKeyId = createHash("sha1").update(createPublicKey(ca.privateKeyPem).export({ type: "spki", format: "der" })).digest()
  return signCertificate(
    request,
    newKeyPair(),
    { commonName: commonNameOf(caCertificate), privateKeyPem: ca.privateKeyPem },
    [
      extension(Oid.basicConstraints, true, der.sequence()),
      // digitalSignature
      extension(Oid.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)),
      extension(Oid.extKeyUsage, false, der.sequence(der.objectIdentifier(Oid.serverAuth))),
      extension(Oid.subjectAltName, false, der.sequence(...request.hosts.map(generalName))),
      extension(Oid.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, caKeyId)))
    ]
  )
}

const commonNameOf = (certificate: X509Certificate): string => {
  const line = certificate.subject.split("\n").find((l) => l.startsWith("CN="))
  return line === undefined ? "" : line.slice("CN=".length)
}
