/**
 * How desired CRs reach the API server: the service every connectivity mode provides besides its
 * `StatusSink`. Pull long-polls the control plane and applies jobs; Push leaves the writes to the
 * control plane's own credential; GitOps keeps the Flux objects that apply a Git path in place.
 * The Cluster reconciler reads `report` into `Cluster.status` and never asks which mode it is.
 */
import { Context, type Effect, type Stream } from "effect"
import type { ConnectivityMode } from "./mode.js"

export interface IntentReport {
  /** The intent source works (GitOps: the Kustomization is Ready); Push and Pull are always true. */
  readonly healthy: boolean
  /** Extra `Cluster.status` fields of this mode (GitOps: `gitops`). */
  readonly fields: Readonly<Record<string, unknown>>
}

export interface IntentSourceService {
  readonly mode: ConnectivityMode
  /**
   * Whether this operator talks to the control plane: heartbeats, `Connected`, `Disconnected`
   * and `Authenticated`. Always in Pull; in Push and GitOps only when events are reported.
   */
  readonly usesControlPlane: boolean
  /** Leader-only work that keeps intent flowing, until interrupted (Push: nothing to do). */
  readonly run: Effect.Effect<void>
  readonly report: Effect.Effect<IntentReport>
  /** Emits when `report` may have changed, so the Cluster status follows at once. */
  readonly changes: Stream.Stream<void>
}

export class IntentSource extends Context.Tag("vworkspace/IntentSource")<IntentSource, IntentSourceService>() {}
