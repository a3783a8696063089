/**
 * A TLS server's certificate and key, where they come from, and keeping a running server on the
 * current pair. The webhook and metrics servers both read a pair cert-manager mounted (the
 * kubelet swaps a Secret volume's files at once) and pick up renewals without a restart.
 */
import { createPrivateKey, X509Certificate } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Server } from "node:tls"
import { Data, type Duration, Effect, Option, Ref, Schedule, type Scope } from "effect"
import { makeRepeatedWarning } from "../observability/repeatedWarning.js"

export interface ServingPair {
  readonly certificatePem: string
  readonly privateKeyPem: string
}

/** The file names of a `kubernetes.io/tls` Secret, as mounted. */
export const TlsFiles = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const

export class CertificateFilesUnreadable extends Data.TaggedError("CertificateFilesUnreadable")<{ readonly message: string }> {}

export class ServingPairRejected extends Data.TaggedError("ServingPairRejected")<{ readonly message: string }> {}

/** The pair mounted in `dir` (tls.crt, tls.key); none while either file is empty. */
export const loadPairFromDirectory = (dir: string): Effect.Effect<Option.Option<ServingPair>, CertificateFilesUnreadable> =>
  Effect.tryPromise({
    try: async () => ({
      certificatePem: await fs.readFile(path.join(dir, TlsFiles.cert), "utf8"),
      privateKeyPem: await fs.readFile(path.join(dir, TlsFiles.key), "utf8")
    }),
    catch: (e) => new CertificateFilesUnreadable({ message: `read ${dir}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.map((pair) => (pair.certificatePem === "" || pair.privateKeyPem === "" ? Option.none() : Option.some(pair))))

/**
 * Serves `pair` to every new connection of `server` from now on. A pair whose key does not
 * belong to its certificate (a half-updated Secret) is refused, so the previous one stays.
 */
export const setServingPair = (server: Server, pair: ServingPair): Effect.Effect<void, ServingPairRejected> =>
  Effect.try({
    try: () => {
      if (!new X509Certificate(pair.certificatePem).checkPrivateKey(createPrivateKey(pair.privateKeyPem))) {
        throw new Error("the private key does not belong to the certificate")
      }
      server.setSecureContext({ cert: pair.certificatePem, key: pair.privateKeyPem, minVersion: "TLSv1.2" })
    },
    catch: (e) => new ServingPairRejected({ message: `serving certificate rejected: ${e instanceof Error ? e.message : String(e)}` })
  })

const samePair = (a: ServingPair, b: ServingPair) => a.certificatePem === b.certificatePem && a.privateKeyPem === b.privateKeyPem

/**
 * Loads the pair every `interval` and serves it when it changed, until the scope closes. Each
 * distinct failure is logged once (a broken pair stays broken until it is replaced); the
 * previous pair stays served meanwhile.
 */
export const keepServingPairCurrent = <E extends { readonly message: string }, R>(options: {
  /** e.g. "webhook": names the certificate in the log. */
  readonly what: string
  readonly load: Effect.Effect<Option.Option<ServingPair>, E, R>
  readonly apply: (pair: ServingPair) => Effect.Effect<void, ServingPairRejected>
  readonly interval: Duration.DurationInput
  /** The pair already served, if any. */
  readonly initial?: ServingPair
}): Effect.Effect<void, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const served = yield* Ref.make<ServingPair | undefined>(options.initial)
    const warning = yield* makeRepeatedWarning({
      warning: `cannot load the ${options.what} serving certificate; the previous one stays served`,
      recovered: `the ${options.what} serving certificate loads again`
    })
    const reload = options.load.pipe(
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.logDebug(`no ${options.what} serving certificate yet`),
          onSome: (pair) =>
            Effect.flatMap(Ref.get(served), (current) =>
              current !== undefined && samePair(current, pair)
                ? Effect.void
                : options.apply(pair).pipe(
                    Effect.zipRight(Ref.set(served, pair)),
                    Effect.zipRight(Effect.logInfo(`${options.what} serving certificate loaded`))
                  )
            )
        })
      ),
      Effect.zipRight(warning.clear),
      Effect.catchAll(warning.warn)
    )
    yield* Effect.forkScoped(Effect.repeat(reload, Schedule.spaced(options.interval)))
  })
