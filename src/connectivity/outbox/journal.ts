/**
 * The outbox's durable part, as ConfigMaps in the operator's namespace:
 * - `vworkspace-outbox` (key `state.json`): the delivered watermark. `settledThrough` is the seq
 *   up to which every event is delivered or dropped; `watermarks` holds, per source kind, the
 *   resourceVersion up to which every derived transition is delivered or journaled; plus the
 *   overflow state. Written lazily: a stale state only means some delivered events are sent
 *   once more after a crash, which the control plane de-duplicates by eventKey.
 * - `vworkspace-outbox-<firstSeq>-<writer>` (label `app.vworkspace.io/outbox=segment`, binaryData
 *   `events.json.gz`): immutable segments of undelivered events, gzipped JSON, written once and
 *   deleted when all their events are settled. `<writer>` is random per run, so an old leader
 *   that is still stopping never overwrites a segment of its successor. A segment also carries the watermarks at the
 *   moment it was cut, since it journals everything derived up to then.
 */
import { gunzipSync, gzipSync } from "node:zlib"
import { Effect, Either, Schema } from "effect"
import { AgentEvent } from "../../api/agentProtocol.js"
import { ConfigMap } from "../../api/thirdParty/core.js"
import { FieldManagers } from "../../api/wellKnown.js"
import type { KubeError } from "../../kube/errors.js"
import { KubeApi } from "../../kube/KubeApi.js"
import type { KubeObject } from "../../kube/object.js"
import { Resources } from "../../kube/resources.js"
import { withKubeRetry } from "../../kube/retry.js"
import type { OverflowState, PendingEvent } from "./buffer.js"

export const JournalNames = {
  state: "vworkspace-outbox",
  stateKey: "state.json",
  segmentPrefix: "vworkspace-outbox-",
  segmentKey: "events.json.gz",
  segmentLabel: "app.vworkspace.io/outbox",
  segmentLabelValue: "segment"
} as const

/** Per source kind, a resourceVersion as a decimal string. */
const Watermarks = Schema.Record({ key: Schema.String, value: Schema.String })
export type Watermarks = typeof Watermarks.Type

const JournalState = Schema.Struct({
  settledThrough: Schema.Int,
  lastSeq: Schema.Int,
  watermarks: Watermarks,
  overflow: Schema.Struct({ active: Schema.Boolean, dropped: Schema.Int })
})
export type JournalState = typeof JournalState.Type

const JournaledEvent = Schema.Struct({ seq: Schema.Int, enqueuedAt: Schema.Number, event: AgentEvent })
const SegmentBody = Schema.Struct({ watermarks: Watermarks, events: Schema.Array(JournaledEvent) })

const StateJson = Schema.parseJson(JournalState)
const SegmentJson = Schema.parseJson(SegmentBody)

export interface Segment {
  readonly name: string
  readonly lastSeq: number
  readonly watermarks: Watermarks
  readonly events: ReadonlyArray<PendingEvent>
}

export interface LoadedJournal {
  readonly state: JournalState | undefined
  readonly segments: ReadonlyArray<Segment>
  /** Objects that could not be decoded: reported and left in place, never deleted. */
  readonly unreadable: ReadonlyArray<string>
}

/** A segment stays well below the 1 MiB object limit even after base64. */
const MAX_SEGMENT_BYTES = 700 * 1024

const segmentName = (firstSeq: number, writer: string): string =>
  `${JournalNames.segmentPrefix}${String(firstSeq).padStart(12, "0")}-${writer}`

const decodeConfigMap = Schema.decodeUnknownEither(ConfigMap)

const decodeSegment = (object: KubeObject): Either.Either<Segment, string> => {
  const name = object.metadata.name ?? ""
  return Either.gen(function* () {
    const cm = yield* Either.mapLeft(decodeConfigMap(object), () => "not a ConfigMap")
    const data = cm.binaryData?.[JournalNames.segmentKey]
    if (data === undefined) return yield* Either.left(`no ${JournalNames.segmentKey}`)
    const json = yield* Either.try({
      try: () => gunzipSync(Buffer.from(data, "base64")).toString("utf8"),
      catch: () => "not gzip"
    })
    const body = yield* Either.mapLeft(Schema.decodeUnknownEither(SegmentJson)(json), () => "malformed segment body")
    const events = body.events.map((e) => ({ seq: e.seq, enqueuedAt: e.enqueuedAt, event: e.event }))
    return { name, lastSeq: Math.max(0, ...events.map((e) => e.seq)), watermarks: body.watermarks, events }
  })
}

/** Reads the state and every segment. */
export const loadJournal = (
  namespace: string
): Effect.Effect<LoadedJournal, KubeError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const stateObject = yield* withKubeRetry(api.get(Resources.ConfigMap, JournalNames.state, namespace)).pipe(
      Effect.map((o): KubeObject | undefined => o),
      Effect.catchTag("NotFound", () => Effect.succeed(undefined))
    )
    const unreadable: Array<string> = []
    let state: JournalState | undefined = undefined
    if (stateObject !== undefined) {
      const raw = decodeConfigMap(stateObject).pipe(Either.map((cm) => cm.data?.[JournalNames.stateKey]))
      const decoded = Either.flatMap(raw, (json) => Schema.decodeUnknownEither(StateJson)(json))
      if (Either.isRight(decoded)) state = decoded.right
      else unreadable.push(JournalNames.state)
    }
    const listed = yield* withKubeRetry(
      api.list(Resources.ConfigMap, {
        namespace,
        labelSelector: `${JournalNames.segmentLabel}=${JournalNames.segmentLabelValue}`
      })
    )
    const segments: Array<Segment> = []
    for (const item of listed.items) {
      const segment = decodeSegment(item)
      if (Either.isRight(segment)) segments.push(segment.right)
      else unreadable.push(`${item.metadata.name ?? ""} (${segment.left})`)
    }
    return { state, segments, unreadable }
  })

const segmentObject = (namespace: string, name: string, gz: Buffer): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name,
    namespace,
    labels: { [JournalNames.segmentLabel]: JournalNames.segmentLabelValue }
  },
  binaryData: { [JournalNames.segmentKey]: gz.toString("base64") }
})

const gzipBody = (events: ReadonlyArray<PendingEvent>, watermarks: Watermarks): Buffer =>
  gzipSync(
    JSON.stringify({
      watermarks,
      events: events.map((p) => ({ seq: p.seq, enqueuedAt: p.enqueuedAt, event: p.event }))
    })
  )

/** Splits events into gzipped bodies that each fit a ConfigMap, halving until they do. */
const chunk = (
  events: ReadonlyArray<PendingEvent>,
  watermarks: Watermarks
): ReadonlyArray<{ readonly events: ReadonlyArray<PendingEvent>; readonly gz: Buffer }> => {
  const gz = gzipBody(events, watermarks)
  if (gz.length <= MAX_SEGMENT_BYTES || events.length <= 1) return [{ events, gz }]
  const half = Math.ceil(events.length / 2)
  return [...chunk(events.slice(0, half), watermarks), ...chunk(events.slice(half), watermarks)]
}

/** Writes events (ordered by seq) as new segments, at most `perSegment` events each. */
export const writeSegments = (
  namespace: string,
  writer: string,
  events: ReadonlyArray<PendingEvent>,
  watermarks: Watermarks,
  perSegment: number
): Effect.Effect<ReadonlyArray<Segment>, KubeError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const written: Array<Segment> = []
    for (let i = 0; i < events.length; i += perSegment) {
      for (const part of chunk(events.slice(i, i + perSegment), watermarks)) {
        const first = part.events[0]
        const last = part.events.at(-1)
        if (first === undefined || last === undefined) continue
        const name = segmentName(first.seq, writer)
        yield* withKubeRetry(
          api.apply(Resources.ConfigMap, segmentObject(namespace, name, part.gz), {
            fieldManager: FieldManagers.operator,
            force: true
          })
        )
        written.push({ name, lastSeq: last.seq, watermarks, events: part.events })
      }
    }
    return written
  })

export const deleteSegment = (namespace: string, name: string): Effect.Effect<void, KubeError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(api.delete(Resources.ConfigMap, name, namespace)).pipe(Effect.catchTag("NotFound", () => Effect.void))
  )

export const writeState = (namespace: string, state: JournalState): Effect.Effect<void, KubeError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(
      api.apply(
        Resources.ConfigMap,
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: JournalNames.state, namespace },
          data: { [JournalNames.stateKey]: Schema.encodeSync(StateJson)(state) }
        },
        { fieldManager: FieldManagers.operator, force: true }
      )
    )
  ).pipe(Effect.asVoid)

export const overflowOf = (state: JournalState | undefined): OverflowState => state?.overflow ?? { active: false, dropped: 0 }
