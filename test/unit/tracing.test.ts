/**
 * Tracing with a loopback OTLP/HTTP receiver: the operator's tracer Layer exports one span per
 * reconcile, and nothing is exported without it.
 */
import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Queue, Schema, Stream } from "effect"
import { Metrics } from "../../src/observability/metrics.js"
import { SpanNames, tracingLayer } from "../../src/observability/tracing.js"
import { Controller, ReconcileResult } from "../../src/runtime/controller.js"

const OtlpTraces = Schema.Struct({
  resourceSpans: Schema.Array(
    Schema.Struct({
      scopeSpans: Schema.Array(
        Schema.Struct({
          spans: Schema.Array(Schema.Struct({ name: Schema.String, attributes: Schema.optional(Schema.Array(Schema.Unknown)) }))
        })
      )
    })
  )
})

/** Collects span names POSTed to /v1/traces (OTLP JSON). */
const receiver = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly names: Array<string>; readonly close: () => void; readonly requests: Array<string> }>((resume) => {
    const names: Array<string> = []
    const requests: Array<string> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        requests.push(`${req.method} ${req.url} ${req.headers["content-type"]}`)
        const decoded = Schema.decodeUnknownOption(Schema.parseJson(OtlpTraces))(Buffer.concat(chunks).toString("utf8"))
        if (decoded._tag === "Some") {
          for (const rs of decoded.value.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) names.push(s.name)
        }
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ port, names, requests, close: () => server.close() }))
    })
  }),
  (r) => Effect.sync(() => r.close())
)

const reconcileThree = Effect.gen(function* () {
  const keys = yield* Queue.unbounded<string>()
  const seen = yield* Queue.unbounded<string>()
  const allDone = yield* Deferred.make<void>()
  const controller = Controller.make({
    name: "traced",
    sources: [Stream.fromQueue(keys)],
    reconcile: (key) =>
      Queue.offer(seen, key).pipe(
        Effect.zipRight(Queue.size(seen)),
        Effect.tap((n) => (n === 3 ? Deferred.succeed(allDone, undefined) : Effect.void)),
        Effect.as(ReconcileResult.done)
      )
  })
  const fiber = yield* Effect.fork(controller.run)
  yield* Queue.offerAll(keys, ["ns/a", "ns/b", "ns/c"])
  yield* Deferred.await(allDone)
  yield* Fiber.interrupt(fiber)
}).pipe(Effect.provide(Metrics.test))

describe("tracing", () => {
  it.scopedLive("exports one span per reconcile to the OTLP/HTTP endpoint", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      // Closing the tracer Layer's scope flushes the batched spans.
      yield* reconcileThree.pipe(
        Effect.provide(tracingLayer({ endpoint: `http://127.0.0.1:${otlp.port}/`, serviceVersion: "test" })),
        Effect.scoped
      )
      expect(otlp.names.filter((n) => n === SpanNames.reconcile)).toHaveLength(3)
      expect(otlp.requests.every((r) => r.startsWith("POST /v1/traces"))).toBe(true)
    })
  )

  it.scopedLive("without an endpoint nothing is exported", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* reconcileThree
      expect(otlp.requests).toEqual([])
    })
  )
})
