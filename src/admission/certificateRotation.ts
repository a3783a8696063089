/**
 * The webhook's CA and serving certificate, as a pure plan: given what the Secret holds and the
 * time, what it should hold next. The rotation never makes the API server reject a request:
 *
 * - The serving (leaf) certificate is renewed from the same CA well before it expires; the
 *   caBundle already trusts that CA, so the new leaf is accepted the moment it is served.
 * - The CA is renewed `caRenewBefore` its expiry in two steps. First the new CA joins the
 *   bundle (new first, old kept) and nothing else changes; the caller then writes the bundle into
 *   the webhook configuration. Only after `caTrustGrace` has passed since (time for the API server
 *   to see the new bundle) is a leaf issued from the new CA. Old CAs leave the bundle when they
 *   expire, long after every replica serves the new leaf.
 */
import { Duration } from "effect"
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto"
import { isIP } from "node:net"
import { createCertificateAuthority, issueServingCertificate, type KeyAndCertificate } from "../tls/certificates.js"

export interface CertificateLifetimes {
  readonly caValidity: Duration.Duration
  readonly caRenewBefore: Duration.Duration
  readonly leafValidity: Duration.Duration
  readonly leafRenewBefore: Duration.Duration
  /** How long the bundle must carry a new CA before a leaf it issued is served. */
  readonly caTrustGrace: Duration.Duration
}

export const defaultLifetimes: CertificateLifetimes = {
  caValidity: Duration.days(5 * 365),
  caRenewBefore: Duration.days(180),
  leafValidity: Duration.days(365),
  leafRenewBefore: Duration.days(30),
  caTrustGrace: Duration.minutes(5)
}

/** What the Secret holds. `bundle` lists the trusted CAs, the signing CA first. */
export interface CertificateState {
  readonly bundle: ReadonlyArray<string>
  readonly caKeyPem: string
  readonly leaf: { readonly certificatePem: string; readonly privateKeyPem: string }
  /** When the signing CA joined the bundle. */
  readonly caTrustedSince: Date
}

export interface PlanRequest {
  readonly commonName: string
  readonly hosts: ReadonlyArray<string>
  readonly lifetimes: CertificateLifetimes
  readonly now: Date
}

export type Plan =
  | { readonly _tag: "Keep" }
  | { readonly _tag: "Write"; readonly state: CertificateState; readonly why: string }

const keep: Plan = { _tag: "Keep" }

const pemBlocks = (text: string): ReadonlyArray<string> =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((b) => (b.endsWith("\n") ? b : `${b}\n`)) ?? []

export const splitBundle = pemBlocks
export const joinBundle = (bundle: ReadonlyArray<string>): string => bundle.join("")

const parse = (pem: string): X509Certificate | undefined => {
  try {
    return new X509Certificate(pem)
  } catch {
    return undefined
  }
}

const remaining = (cert: X509Certificate, now: Date): number => new Date(cert.validTo).getTime() - now.getTime()

const coversHosts = (cert: X509Certificate, hosts: ReadonlyArray<string>): boolean =>
  hosts.every((h) => (isIP(h) === 0 ? cert.checkHost(h, { wildcards: false }) !== undefined : cert.checkIP(h) !== undefined))

const keyMatches = (cert: X509Certificate, keyPem: string): boolean => {
  try {
    return cert.publicKey.equals(createPublicKey(createPrivateKey(keyPem)))
  } catch {
    return false
  }
}

const fresh = (request: PlanRequest, why: string): Plan => {
  const ca = createCertificateAuthority({
    commonName: `${request.commonName}-ca`,
    now: request.now,
    validForMillis: Duration.toMillis(request.lifetimes.caValidity)
  })
  return {
    _tag: "Write",
    why,
    state: { bundle: [ca.certificatePem], caKeyPem: ca.privateKeyPem, leaf: issueLeaf(ca, request), caTrustedSince: request.now }
  }
}

const issueLeaf = (ca: KeyAndCertificate, request: PlanRequest) => {
  const leaf = issueServingCertificate(ca, {
    commonName: request.commonName,
    hosts: request.hosts,
    now: request.now,
    validForMillis: Duration.toMillis(request.lifetimes.leafValidity)
  })
  return { certificatePem: leaf.certificatePem, privateKeyPem: leaf.privateKeyPem }
}

/** The next state of the certificates (see the module comment for the rules). */
export const planCertificates = (state: CertificateState | undefined, request: PlanRequest): Plan => {
  if (state === undefined) return fresh(request, "no webhook certificate yet")
  const now = request.now
  const trusted = state.bundle.map((pem) => ({ pem, cert: parse(pem) })).filter((c) => c.cert !== undefined && remaining(c.cert, now) > 0)
  const signing = trusted[0]
  if (signing?.cert === undefined || state.bundle[0] !== signing.pem || !keyMatches(signing.cert, state.caKeyPem)) {
    return fresh(request, "the webhook CA is missing, expired or does not match its key")
  }
  const bundle = trusted.map((c) => c.pem)
  if (remaining(signing.cert, now) < Duration.toMillis(request.lifetimes.caRenewBefore)) {
    const ca = createCertificateAuthority({
      commonName: `${request.commonName}-ca`,
      now,
      validForMillis: Duration.toMillis(request.lifetimes.caValidity)
    })
    return { _tag: "Write", why: "webhook CA renewed; its leaf follows once the caBundle trusts it", state: { ...state, bundle: [ca.certificatePem, ...bundle], caKeyPem: ca.privateKeyPem, caTrustedSince: now } }
  }
  const leaf = parse(state.leaf.certificatePem)
  const leafUsable = leaf !== undefined && remaining(leaf, now) > 0 && keyMatches(leaf, state.leaf.privateKeyPem)
  const fromSigning = leaf !== undefined && leaf.verify(signing.cert.publicKey)
  const leafFine =
    leafUsable && fromSigning && remaining(leaf, now) >= Duration.toMillis(request.lifetimes.leafRenewBefore) && coversHosts(leaf, request.hosts)
  const pruned = bundle.length !== state.bundle.length
  if (leafFine) return pruned ? { _tag: "Write", why: "expired CA left the caBundle", state: { ...state, bundle } } : keep
  const trustedLongEnough = now.getTime() - state.caTrustedSince.getTime() >= Duration.toMillis(request.lifetimes.caTrustGrace)
  if (leafUsable && !fromSigning && !trustedLongEnough) {
    return pruned ? { _tag: "Write", why: "expired CA left the caBundle", state: { ...state, bundle } } : keep
  }
  const ca = { certificatePem: signing.pem, privateKeyPem: state.caKeyPem, notBefore: now, notAfter: now }
  return { _tag: "Write", why: "webhook serving certificate renewed", state: { ...state, bundle, leaf: issueLeaf(ca, request) } }
}
