/**
 * The watch stream's byte handling against a scripted HTTP server on loopback: what a real API
 * server cannot be made to do on demand (split events mid-character, send garbage, stall).
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { KubeConfig } from "@kubernetes/client-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, Stream } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"

type Script = (req: http.IncomingMessage, res: http.ServerResponse) => void

/** An HTTP server on 127.0.0.1 that answers every request with `script`; closed with the scope. */
const scriptedServer = (script: Script) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer(script)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const apiFor = (server: http.Server) => {
  const { port } = server.address() as AddressInfo
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x"
  })
  return KubeApiLive.layer(kc)
}

const event = (type: string, name: string, rv: string, data: Record<string, string> = {}) =>
  JSON.stringify({
    type,
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns", resourceVersion: rv }, data }
  }) + "\n"

describe("KubeApi.watch stream", () => {
  it.scopedLive("parses events split across chunks, even inside a multi-byte character", () =>
    Effect.gen(function* () {
      const first = Buffer.from(event("ADDED", "a", "1", { text: "grüße" }) + event("MODIFIED", "a", "2"))
      const cut = first.indexOf(Buffer.from("ü")) + 1 // in the middle of the two bytes of "ü"
      const server = yield* scriptedServer((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" })
        res.write(first.subarray(0, cut))
        setTimeout(() => {
          res.write(first.subarray(cut))
          res.end(event("DELETED", "a", "3"))
        }, 20)
      })
      const events = yield* Effect.flatMap(KubeApi, (api) =>
        Stream.runCollect(api.watch(Resources.ConfigMap, { namespace: "ns" }))
      ).pipe(Effect.provide(apiFor(server)), Effect.timeout(Duration.seconds(4)))
      const list = Chunk.toReadonlyArray(events)
      expect(list.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"])
      expect(list[0]?.object["data"]).toEqual({ text: "grüße" })
    }))

  it.scopedLive("sends the watch parameters", () =>
    Effect.gen(function* () {
      const seen = yield* Deferred.make<string>()
      const server = yield* scriptedServer((req, res) => {
        Deferred.unsafeDone(seen, Effect.succeed(req.url ?? ""))
        res.writeHead(200)
        res.end()
      })
      yield* Effect.flatMap(KubeApi, (api) =>
        Stream.runDrain(
          api.watch(Resources.ConfigMap, {
            namespace: "ns",
            resourceVersion: "42",
            allowWatchBookmarks: true,
            timeoutSeconds: 290,
            labelSelector: "a=b"
          })
        )
      ).pipe(Effect.provide(apiFor(server)))
      const url = new URL(yield* Deferred.await(seen), "http://x")
      expect(url.pathname).toBe("/api/v1/namespaces/ns/configmaps")
      expect(Object.fromEntries(url.searchParams)).toEqual({
        watch: "1",
        resourceVersion: "42",
        allowWatchBookmarks: "true",
        timeoutSeconds: "290",
        labelSelector: "a=b"
      })
    }))

  it.scopedLive("a line that is not JSON fails the stream with Transport", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_req, res) => {
        res.writeHead(200)
        res.end(event("ADDED", "a", "1") + "<html>proxy error</html>\n")
      })
      const result = yield* Effect.flatMap(KubeApi, (api) => Stream.runCollect(api.watch(Resources.ConfigMap))).pipe(
        Effect.provide(apiFor(server)),
        Effect.either
      )
      expect(Either.isLeft(result) && result.left._tag).toBe("Transport")
    }))

  it.scopedLive("a non-2xx answer to the watch request is a typed error", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_req, res) => {
        res.writeHead(429, { "Retry-After": "4", "Content-Type": "application/json" })
        res.end(JSON.stringify({ kind: "Status", code: 429, reason: "TooManyRequests", message: "storage is (re)initializing" }))
      })
      const result = yield* Effect.flatMap(KubeApi, (api) => Stream.runCollect(api.watch(Resources.ConfigMap))).pipe(
        Effect.provide(apiFor(server)),
        Effect.either
      )
      expect(Either.isLeft(result) && result.left).toMatchObject({
        _tag: "TooManyRequests",
        message: "storage is (re)initializing",
        retryAfter: Duration.seconds(4)
      })
    }))

  it.scopedLive("interrupting the stream destroys the request", () =>
    Effect.gen(function* () {
      const closed = yield* Deferred.make<void>()
      const server = yield* scriptedServer((req, res) => {
        res.writeHead(200)
        res.write(event("ADDED", "a", "1"))
        // Never ends: only the client can close this watch.
        req.socket.once("close", () => Deferred.unsafeDone(closed, Effect.void))
      })
      // The client (and its connection pool) outlives the stream, so only the stream can close it.
      const api = yield* Layer.build(apiFor(server)).pipe(Effect.map(Context.get(KubeApi)))
      const received = yield* Deferred.make<void>()
      const fiber = yield* api
        .watch(Resources.ConfigMap)
        .pipe(Stream.tap(() => Deferred.succeed(received, undefined)), Stream.runDrain, Effect.fork)
      yield* Deferred.await(received)
      const interrupted = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(interrupted)).toBe(true)
      yield* Deferred.await(closed).pipe(Effect.timeout(Duration.seconds(4)))
    }))

  it.scopedLive("taking a few events and stopping also closes the connection", () =>
    Effect.gen(function* () {
      const closed = yield* Deferred.make<void>()
      const server = yield* scriptedServer((req, res) => {
        res.writeHead(200)
        res.write(event("ADDED", "a", "1") + event("ADDED", "b", "2"))
        req.socket.once("close", () => Deferred.unsafeDone(closed, Effect.void))
      })
      const api = yield* Layer.build(apiFor(server)).pipe(Effect.map(Context.get(KubeApi)))
      const firstTwo = yield* Stream.runCollect(Stream.take(api.watch(Resources.ConfigMap), 2))
      expect(Chunk.size(firstTwo)).toBe(2)
      yield* Deferred.await(closed).pipe(Effect.timeout(Duration.seconds(4)))
    }))
})
