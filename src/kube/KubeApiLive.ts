import type { KubeConfig } from "@kubernetes/client-node"
import { StringDecoder } from "node:string_decoder"
import { Chunk, Duration, Effect, Either, Layer, type ParseResult, Schema, type Scope, Stream } from "effect"
import { Invalid, type KubeError, Timeout, Transport } from "./errors.js"
import {
  type ApplyOptions,
  type DeleteOptions,
  KubeApi,
  type KubeApiService,
  type ListOptions,
  type PatchType,
  type WatchEvent,
  type WatchOptions
} from "./KubeApi.js"
import type { ClusterConnection } from "./connection.js"
import { type InClusterPaths, inClusterConnection } from "./inCluster.js"
import { defaultConnection, type KubeConfigError, kubeConfigConnection, loadKubeConfigFile } from "./kubeConfig.js"
import { ObjectMeta } from "../api/meta.js"
import { apiVersionOf, type KubeObject, type ResourceType } from "./object.js"
import { collectionPath, objectPath, queryString } from "./paths.js"
import { errorFromResponse, errorFromWatchStatus } from "./statusError.js"
import { type HttpRequest, type HttpResponse, makeHttpTransport, readText } from "./transport.js"

export interface KubeApiLiveOptions {
  /** Upper bound for every non-watch request, and for a watch to start answering. Default 30 s. */
  readonly requestTimeout?: Duration.DurationInput
}

const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(30)
/** Without `timeoutSeconds` the API server picks 30–60 min; the idle default stays above that. */
const DEFAULT_WATCH_SECONDS = 3600
const IDLE_MARGIN = Duration.seconds(30)

// --- wire decoding --------------------------------------------------------------------------

/**
 * Every object is decoded in two cheap parts: the typed envelope (apiVersion, kind and the
 * metadata fields the operator reads) and, as plain JSON fields, everything else, which each
 * reader decodes as it needs. Decoding the whole object with excess properties preserved costs
 * several times more: every object read passes here.
 */
const Envelope = Schema.Struct({ apiVersion: Schema.String, kind: Schema.String, metadata: ObjectMeta })
const Fields = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const ObjectFields = Schema.Struct({ metadata: Fields }, Fields)

const ListSchema = Schema.Struct({
  metadata: Schema.optional(
    Schema.Struct({ resourceVersion: Schema.optional(Schema.String), continue: Schema.optional(Schema.String) })
  ),
  items: Schema.NullOr(Schema.Array(Schema.Unknown))
})

const WatchEventSchema = Schema.Struct({
  type: Schema.Literal("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"),
  object: Schema.Unknown
})

const VersionSchema = Schema.Struct({ gitVersion: Schema.String, major: Schema.String, minor: Schema.String })

// Unknown fields must survive decoding: the operator reads spec and status as it needs them.
const preserve = { onExcessProperty: "preserve" } as const

/**
 * A decoder of API server answers; `what` names the answer in the error. Synchronous (an Either
 * is an Effect too): every object read passes here, so it stays cheap.
 */
const unexpected = (what: string) => (e: ParseResult.ParseError) =>
  new Transport({ message: `unexpected ${what} from the API server: ${e.message}`, cause: e })
const decoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, preserve)
  return (input: unknown, what: string): Either.Either<A, Transport> => Either.mapLeft(decode(input), unexpected(what))
}
const decodeEnvelope = Schema.decodeUnknownEither(Envelope)
const decodeFields = Schema.decodeUnknownEither(ObjectFields)
const decodeKubeObject = (input: unknown, what: string): Either.Either<KubeObject, Transport> =>
  Either.zipWith(decodeFields(input), decodeEnvelope(input), (fields, envelope): KubeObject => ({
    ...fields,
    apiVersion: envelope.apiVersion,
    kind: envelope.kind,
    metadata: { ...fields.metadata, ...envelope.metadata }
  })).pipe(Either.mapLeft(unexpected(what)))
const decodeList = decoder(ListSchema)
const decodeWatchEvent = decoder(WatchEventSchema)
const decodeVersion = decoder(VersionSchema)

const parseJson = (text: string, what: string): Either.Either<unknown, Transport> =>
  Either.try({
    try: (): unknown => JSON.parse(text),
    catch: (e) => new Transport({ message: `the API server sent invalid JSON for ${what}`, cause: e })
  })

/** List items and watch objects of built-in kinds come without apiVersion and kind. */
const withTypeMeta = (type: ResourceType, raw: unknown): unknown =>
  typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? { apiVersion: apiVersionOf(type), kind: type.kind, ...raw }
    : raw

const decodeObject = (type: ResourceType, raw: unknown): Either.Either<KubeObject, Transport> =>
  decodeKubeObject(withTypeMeta(type, raw), `${type.kind} object`)

/**
 * Splits a byte stream into its non-blank lines: `push` returns the lines a chunk completes (a
 * character split across chunks is joined), `end` the last one if it had no newline.
 */
const lineSplitter = () => {
  const decoder = new StringDecoder("utf8")
  let rest = ""
  const complete = (text: string, final: boolean): ReadonlyArray<string> => {
    const lines = text.split("\n")
    rest = final ? "" : (lines.pop() ?? "")
    return lines.filter((line) => line.trim() !== "")
  }
  return {
    push: (bytes: Uint8Array) => complete(rest + decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), false),
    end: () => complete(rest + decoder.end(), true)
  }
}

// --- the service ----------------------------------------------------------------------------

const requireNamespace = (type: ResourceType, namespace: string | undefined): Effect.Effect<void, Invalid> =>
  type.namespaced && (namespace === undefined || namespace === "")
    ? Effect.fail(
        new Invalid({
          message: `${type.kind} is namespaced: a namespace is required`,
          causes: [{ field: "metadata.namespace", reason: "FieldValueRequired", message: "Required value" }]
        })
      )
    : Effect.void

const requireName = (object: KubeObject): Effect.Effect<string, Invalid> =>
  object.metadata.name !== undefined && object.metadata.name !== ""
    ? Effect.succeed(object.metadata.name)
    : Effect.fail(
        new Invalid({
          message: `${object.kind}: metadata.name is required`,
          causes: [{ field: "metadata.name", reason: "FieldValueRequired", message: "Required value" }]
        })
      )

const patchContentType: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json"
}

const header = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** Builds the service over a transport for one cluster. */
export const makeKubeApi = (
  connection: ClusterConnection,
  options: KubeApiLiveOptions = {}
): Effect.Effect<KubeApiService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* makeHttpTransport(connection)
    const timeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT

    /** The 2xx body as JSON, or the typed error of a non-2xx answer. */
    const call = (req: HttpRequest): Effect.Effect<unknown, KubeError> =>
      transport.request(req, timeout).pipe(
        Effect.flatMap((res: HttpResponse) =>
          res.status >= 200 && res.status < 300
            ? parseJson(res.body, `${req.method} ${req.path}`)
            : Effect.fail(errorFromResponse(res.status, res.body, header(res.headers["retry-after"])))
        )
      )

    const get: KubeApiService["get"] = (type, name, namespace) =>
      requireNamespace(type, namespace).pipe(
        Effect.zipRight(call({ method: "GET", path: objectPath(type, name, namespace) })),
        Effect.flatMap((raw) => decodeObject(type, raw))
      )

    const list: KubeApiService["list"] = (type, opts: ListOptions = {}) =>
      call({
        method: "GET",
        path:
          collectionPath(type, opts.namespace) +
          queryString({
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.limit,
            continue: opts.continue,
            resourceVersion: opts.resourceVersion
          })
      }).pipe(
        Effect.flatMap((raw) => decodeList(raw, `${type.kind} list`)),
        Effect.flatMap((l) =>
          Either.map(Either.all((l.items ?? []).map((item) => decodeObject(type, item))), (items) => {
            const cont = l.metadata?.continue
            return {
              items,
              resourceVersion: l.metadata?.resourceVersion ?? "",
              ...(cont === undefined || cont === "" ? {} : { continue: cont })
            }
          })
        )
      )

    const create: KubeApiService["create"] = (type, object) =>
      requireNamespace(type, object.metadata.namespace).pipe(
        Effect.zipRight(call({ method: "POST", path: collectionPath(type, object.metadata.namespace), body: object })),
        Effect.flatMap((raw) => decodeObject(type, raw))
      )

    const applyTo =
      (subresource: string | undefined) =>
      (type: ResourceType, object: KubeObject, opts: ApplyOptions): Effect.Effect<KubeObject, KubeError> =>
        Effect.gen(function* () {
          yield* requireNamespace(type, object.metadata.namespace)
          const name = yield* requireName(object)
          const raw = yield* call({
            method: "PATCH",
            path:
              objectPath(type, name, object.metadata.namespace, subresource) +
              queryString({ fieldManager: opts.fieldManager, force: opts.force ?? false }),
            // JSON is YAML, so the apply patch can be sent as JSON.
            contentType: "application/apply-patch+yaml",
            body: { ...object, apiVersion: object.apiVersion || apiVersionOf(type), kind: object.kind || type.kind }
          })
          return yield* decodeObject(type, raw)
        })

    const patch: KubeApiService["patch"] = (type, name, namespace, patchType, body, opts) =>
      requireNamespace(type, namespace).pipe(
        Effect.zipRight(
          call({
            method: "PATCH",
            path: objectPath(type, name, namespace) + queryString({ fieldManager: opts?.fieldManager }),
            contentType: patchContentType[patchType],
            body
          })
        ),
        Effect.flatMap((raw) => decodeObject(type, raw))
      )

    const del: KubeApiService["delete"] = (type, name, namespace, opts: DeleteOptions = {}) =>
      requireNamespace(type, namespace).pipe(
        Effect.zipRight(
          call({
            method: "DELETE",
            path: objectPath(type, name, namespace),
            body: {
              apiVersion: "v1",
              kind: "DeleteOptions",
              ...(opts.preconditions === undefined ? {} : { preconditions: opts.preconditions }),
              ...(opts.propagationPolicy === undefined ? {} : { propagationPolicy: opts.propagationPolicy })
            }
          })
        ),
        Effect.asVoid
      )

    const watch: KubeApiService["watch"] = (type, opts: WatchOptions = {}) => {
      const path =
        collectionPath(type, opts.namespace) +
        queryString({
          watch: 1,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          resourceVersion: opts.resourceVersion,
          allowWatchBookmarks: opts.allowWatchBookmarks,
          timeoutSeconds: opts.timeoutSeconds
        })
      const idle =
        opts.idleTimeout ?? Duration.sum(Duration.seconds(opts.timeoutSeconds ?? DEFAULT_WATCH_SECONDS), IDLE_MARGIN)
      const toEvent = (line: string): Either.Either<WatchEvent, KubeError> =>
        parseJson(line, `a ${type.kind} watch event`).pipe(
          Either.flatMap((raw) => decodeWatchEvent(raw, `${type.kind} watch event`)),
          Either.flatMap((e): Either.Either<WatchEvent, KubeError> => {
            const eventType = e.type
            return eventType === "ERROR"
              ? Either.left(errorFromWatchStatus(e.object))
              : Either.map(decodeObject(type, e.object), (object): WatchEvent => ({ type: eventType, object }))
          })
        )
      const idleFor = Duration.decode(idle)
      return Stream.unwrapScoped(
        Effect.gen(function* () {
          const res = yield* transport.stream({ method: "GET", path }, timeout, {
            after: idleFor,
            onTimeout: () => new Timeout({ message: `${type.kind} watch: no data for ${Duration.format(idleFor)}` })
          })
          if (res.status < 200 || res.status >= 300) {
            const body = yield* readText(res.body)
            return yield* Effect.fail(errorFromResponse(res.status, body, header(res.headers["retry-after"])))
          }
          const lines = lineSplitter()
          // One stage per chunk of byte buffers (usually one event). A bad line fails the stream at
          // once, dropping the events before it in the same chunk: the informer resumes from
          // the last version it applied, so the next watch delivers them again.
          const events = (text: ReadonlyArray<string>) => Either.all(text.map(toEvent))
          const eventsIn = (chunk: Chunk.Chunk<Uint8Array>) =>
            Either.map(events(Chunk.toReadonlyArray(chunk).flatMap(lines.push)), Chunk.unsafeFromArray)
          return res.body.pipe(
            Stream.mapChunksEffect(eventsIn),
            Stream.concat(Stream.suspend(() => Stream.fromIterableEffect(events(lines.end()))))
          )
        })
      )
    }

    const version: KubeApiService["version"] = call({ method: "GET", path: "/version" }).pipe(
      Effect.flatMap((raw) => decodeVersion(raw, "version"))
    )

    return {
      get,
      list,
      watch,
      create,
      apply: applyTo(undefined),
      applyStatus: applyTo("status"),
      patch,
      delete: del,
      version
    }
  })

const over = (
  connection: Effect.Effect<ClusterConnection, KubeConfigError>,
  options?: KubeApiLiveOptions
): Layer.Layer<KubeApi, KubeConfigError> => Layer.scoped(KubeApi, Effect.flatMap(connection, (c) => makeKubeApi(c, options)))

/** Layers of the live `KubeApi`. */
export const KubeApiLive = {
  /** Over an already loaded kubeconfig. */
  layer: (kubeConfig: KubeConfig, options?: KubeApiLiveOptions): Layer.Layer<KubeApi, KubeConfigError> =>
    over(kubeConfigConnection(kubeConfig), options),
  /** Over a kubeconfig file (its current context). */
  fromKubeconfigFile: (path: string, options?: KubeApiLiveOptions): Layer.Layer<KubeApi, KubeConfigError> =>
    over(Effect.flatMap(loadKubeConfigFile(path), kubeConfigConnection), options),
  /** A Pod's service account (token re-read when it rotates); `paths` default to the standard mount. */
  inCluster: (paths?: InClusterPaths, options?: KubeApiLiveOptions): Layer.Layer<KubeApi, KubeConfigError> =>
    over(inClusterConnection(paths), options),
  /** `$KUBECONFIG`, `~/.kube/config`, or the in-cluster service account. */
  fromDefault: over(defaultConnection) satisfies Layer.Layer<KubeApi, KubeConfigError>
}
