/**
 * Admission as the operator runs it: the webhook server on every replica, reloading its serving
 * certificate, and the certificate writer (leader only; its writes are conflict-safe anyway)
 * unless cert-manager provides the certificate.
 */
import { Clock, Effect, Option, Schedule, type Scope } from "effect"
import type { OperatorConfig } from "../config.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { Audit } from "../observability/audit.js"
import type { KubeError } from "../kube/errors.js"
import { type CertificateFilesUnreadable, keepServingPairCurrent, loadPairFromDirectory, type ServingPair } from "../tls/servingPair.js"
import { loadPairFromSecret, syncCertificates } from "./certificates.js"
import type { AdmissionLookup } from "./judge.js"
import { serveWebhooks, type WebhookServer, type WebhookServerError } from "./server.js"
import type { WebhookSettings } from "./settings.js"

const loadPair = (
  settings: WebhookSettings,
  namespace: string
): Effect.Effect<Option.Option<ServingPair>, KubeError | CertificateFilesUnreadable, KubeApi> =>
  Option.match(settings.certDir, {
    onNone: () => loadPairFromSecret(settings, namespace),
    onSome: loadPairFromDirectory
  })

/** Serves the webhooks and reloads the serving certificate every `reloadInterval`, until the scope closes. */
export const runWebhookServer = (
  settings: WebhookSettings,
  namespace: string,
  listen: { readonly host?: string; readonly port: number } = { ...(settings.host === undefined ? {} : { host: settings.host }), port: settings.port }
): Effect.Effect<WebhookServer, WebhookServerError, Scope.Scope | KubeApi | AdmissionLookup | OperatorConfig | Audit> =>
  Effect.gen(function* () {
    const server = yield* serveWebhooks(listen)
    yield* keepServingPairCurrent({ what: "webhook", load: loadPair(settings, namespace), apply: server.setCertificate, interval: settings.reloadInterval })
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
