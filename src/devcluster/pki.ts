import * as path from "node:path"
import { Effect } from "effect"
import type { CommandFailed } from "./errors.js"
import { runCommand } from "./process.js"

const openssl = (args: ReadonlyArray<string>) => runCommand("openssl", args)

/** The files of a private CA in `dir`; the CA signs the serving and client certificates. */
export interface Pki {
  readonly dir: string
  readonly caCert: string
  readonly caKey: string
}

export interface CertPair {
  readonly cert: string
  readonly key: string
}

const ecKey = (file: string) => openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file])

/** A subject for `openssl -subj`: each group becomes an O, the user the CN. */
const subject = (cn: string, orgs: ReadonlyArray<string>): string => {
  const escape = (s: string) => s.replace(/[\\/]/g, (c) => `\\${c}`)
  return [...orgs.map((o) => `/O=${escape(o)}`), `/CN=${escape(cn)}`].join("")
}

export const createCa = (dir: string): Effect.Effect<Pki, CommandFailed> => {
  const pki: Pki = { dir, caCert: path.join(dir, "ca.crt"), caKey: path.join(dir, "ca.key") }
  return ecKey(pki.caKey).pipe(
    Effect.zipRight(
      openssl([
        "req", "-x509", "-new", "-key", pki.caKey, "-subj", "/CN=vworkspace-dev-ca", "-days", "3650",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", pki.caCert
      ])
    ),
    Effect.as(pki)
  )
}

const issue = (
  pki: Pki,
  name: string,
  subj: string,
  extensions: ReadonlyArray<string>
): Effect.Effect<CertPair, CommandFailed> => {
  const pair: CertPair = { cert: path.join(pki.dir, `${name}.crt`), key: path.join(pki.dir, `${name}.key`) }
  return ecKey(pair.key).pipe(
    Effect.zipRight(
      openssl([
        "req", "-x509", "-new", "-key", pair.key, "-subj", subj,
        "-CA", pki.caCert, "-CAkey", pki.caKey, "-days", "825",
        "-addext", "basicConstraints=critical,CA:FALSE",
        ...extensions.flatMap((e) => ["-addext", e]),
        "-out", pair.cert
      ])
    ),
    Effect.as(pair)
  )
}

/** The API server's serving certificate, valid for the loopback names it is reached by. */
export const issueServingCert = (pki: Pki): Effect.Effect<CertPair, CommandFailed> =>
  issue(pki, "apiserver", "/CN=kube-apiserver", [
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth"
  ])

/**
 * A client certificate for `user` in `groups`; the API server's x509 authenticator reads the CN as
 * the user name and each O as a group. `name` is the file stem inside the PKI dir.
 */
export const issueClientCert = (
  pki: Pki,
  name: string,
  user: string,
  groups: ReadonlyArray<string> = []
): Effect.Effect<CertPair, CommandFailed> =>
  issue(pki, name, subject(user, groups), ["keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"])

/** The key pair that signs and verifies service-account tokens. */
export const createServiceAccountKeys = (dir: string): Effect.Effect<{ readonly privateKey: string; readonly publicKey: string }, CommandFailed> => {
  const privateKey = path.join(dir, "sa.key")
  const publicKey = path.join(dir, "sa.pub")
  return openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privateKey]).pipe(
    Effect.zipRight(openssl(["pkey", "-in", privateKey, "-pubout", "-out", publicKey])),
    Effect.as({ privateKey, publicKey })
  )
}
