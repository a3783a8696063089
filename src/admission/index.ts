/**
 * Admission as the operator runs it: the webhook server on every replica, reloading its serving
 * certificate, and the certificate writer (leader only; its writes are conflict-safe anyway)
 * unless cert-manager provides the certificate.
 */
import { Clock, Effect, Option, Ref, Schedule, type Scope } from "effect"
import type { OperatorConfig } from "../config.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { Audit } from "../observability/audit.js"
import type { KubeError } from "../kube/errors.js"
import { type CertificateFilesUnreadable, loadPairFromDirectory, loadPairFromSecret, syncCertificates } from "./certificates.js"
import type { AdmissionLookup } from "./judge.js"
import { type ServingPair, serveWebhooks, type WebhookServer, type WebhookServerError } from "./server.js"
import type { WebhookSettings } from "./settings.js"

const loadPair = (
  settings: WebhookSettings,
  namespace: string
): Effect.Effect<Option.Option<ServingPair>, KubeError | CertificateFilesUnreadable, KubeApi> =>
  Option.match(settings.certDir, {
    onNone: () => loadPairFromSecret(settings, namespace),
    onSome: loadPairFromDirectory
  })

const samePair = (a: ServingPair, b: ServingPair) => a.certificatePem === b.certificatePem && a.privateKeyPem === b.privateKeyPem

/** Serves the webhooks and reloads the serving certificate every `reloadInterval`, until the scope closes. */
export const runWebhookServer = (
  settings: WebhookSettings,
  namespace: string,
  listen: { readonly host?: string; readonly port: number } = { ...(settings.host === undefined ? {} : { host: settings.host }), port: settings.port }
): Effect.Effect<WebhookServer, WebhookServerError, Scope.Scope | KubeApi | AdmissionLookup | OperatorConfig | Audit> =>
  Effect.gen(function* () {
    const server = yield* serveWebhooks(listen)
    const served = yield* Ref.make<ServingPair | undefined>(undefined)
    // The last failure warned about: a broken pair stays broken until it is replaced, and the
    // reload runs every few seconds, so each distinct failure is logged once.
    const warned = yield* Ref.make<string | undefined>(undefined)
    const warnOnce = (e: { readonly message: string }) =>
      Effect.flatMap(Ref.getAndSet(warned, e.message), (last) =>
        last === e.message
          ? Effect.void
          : Effect.logWarning("cannot load the webhook serving certificate; the previous one stays served").pipe(Effect.annotateLogs({ error: e.message }))
      )
    const reload = loadPair(settings, namespace).pipe(
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.logDebug("no webhook serving certificate yet"),
          onSome: (pair) =>
            Effect.flatMap(Ref.get(served), (current) =>
              current !== undefined && samePair(current, pair)
                ? Effect.void
                : server.setCertificate(pair).pipe(
                    Effect.zipRight(Ref.set(served, pair)),
                    Effect.zipRight(Ref.set(warned, undefined)),
                    Effect.zipRight(Effect.logInfo("webhook serving certificate loaded"))
                  )
            )
        })
      ),
      Effect.catchAll(warnOnce)
    )
    yield* Effect.forkScoped(Effect.repeat(reload, Schedule.spaced(settings.reloadInterval)))
    yield* Effect.logInfo("webhook server listening").pipe(Effect.annotateLogs({ host: server.host, port: server.port }))
    return server
  })

/** Keeps the certificates and the caBundle current, every `checkInterval`; never fails. */
export const runCertificateWriter = (settings: WebhookSettings, namespace: string): Effect.Effect<void, never, KubeApi> =>
  Option.isSome(settings.certDir)
    ? Effect.void
    : Effect.repeat(
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => syncCertificates(settings, namespace, new Date(now))),
          Effect.catchAll((e) => Effect.logWarning("webhook certificate check failed").pipe(Effect.annotateLogs({ error: e.message })))
        ),
        Schedule.spaced(settings.checkInterval)
      ).pipe(Effect.asVoid)
