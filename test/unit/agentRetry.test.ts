import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Ref, TestClock } from "effect"
import { AgentDecodeError, AgentHttpError, AgentTransportError } from "../../src/connectivity/agentClient.js"
import { CredentialsMissing } from "../../src/connectivity/credentials.js"
import { type AgentCallError, parseRetryAfter, withAgentRetry } from "../../src/connectivity/retry.js"

const http = (status: number, retryAfter?: Duration.Duration) =>
  new AgentHttpError({ status, code: "", message: `HTTP ${status}`, ...(retryAfter === undefined ? {} : { retryAfter }) })
const transport = new AgentTransportError({ message: "connection refused", timedOut: false })

/** Fails with `errors` in turn, then succeeds; records the clock at every attempt. */
const scripted = (errors: ReadonlyArray<AgentCallError>) =>
  Effect.gen(function* () {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const effect = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const n = (yield* Ref.getAndUpdate(times, (t) => [...t, now])).length
      const error = errors[n]
      return error === undefined ? "ok" : yield* Effect.fail(error)
    })
    return { times, effect }
  })

const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - (times[i] ?? 0))

/** Advances the test clock in 1 s steps until the fiber is done (sleepers wake at their exact deadline). */
const runToEnd = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(Duration.seconds(1))
    }
    return yield* Fiber.await(fiber)
  })

describe("agentRetry", () => {
  it.effect("5xx and transport errors back off exponentially with jitter, never faster than 1/s, capped", () =>
    Effect.gen(function* () {
      const errors = [http(500), http(502), transport, http(503), http(500), http(504), transport, http(500)]
      const { times, effect } = yield* scripted(errors)
      const fiber = yield* Effect.fork(withAgentRetry(effect, { cap: Duration.seconds(20) }))
      const exit = yield* runToEnd(fiber)
      expect(exit._tag).toBe("Success")
      const g = gaps(yield* Ref.get(times))
      expect(g).toHaveLength(errors.length)
      // runToEnd steps the clock 1 s at a time, concurrently with the retry loop: a step that
      // lands between a failure and the start of its sleep adds up to one step to that gap.
      for (const gap of g) {
        expect(gap).toBeGreaterThanOrEqual(1000)
        expect(gap).toBeLessThanOrEqual(21_000)
      }
      // Exponential: the 4th delay is well above the first (1 s × 2³ × jitter ≥ 0.8).
      expect(g[3] ?? 0).toBeGreaterThanOrEqual(6000)
      // Capped: 1 s × 2⁷ × jitter is far above the cap.
      expect(g[7]).toBeGreaterThanOrEqual(20_000)
      expect(g[7]).toBeLessThanOrEqual(21_000)
    }))

  it.effect("the floor holds even when the base is shorter", () =>
    Effect.gen(function* () {
      const { times, effect } = yield* scripted([http(500), http(500)])
      const fiber = yield* Effect.fork(withAgentRetry(effect, { base: Duration.millis(10) }))
      yield* runToEnd(fiber)
      for (const gap of gaps(yield* Ref.get(times))) expect(gap).toBeGreaterThanOrEqual(1000)
    }))

  it.effect("a 429 waits for its Retry-After, even beyond the cap", () =>
    Effect.gen(function* () {
      const { times, effect } = yield* scripted([http(429, Duration.seconds(90))])
      const fiber = yield* Effect.fork(withAgentRetry(effect, { cap: Duration.seconds(5) }))
      yield* TestClock.adjust(Duration.seconds(89))
      expect((yield* Ref.get(times)).length).toBe(1)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(gaps(yield* Ref.get(times))).toEqual([90_000])
    }))

  it.effect("a 429 without Retry-After backs off like a 5xx", () =>
    Effect.gen(function* () {
      const { times, effect } = yield* scripted([http(429)])
      const fiber = yield* Effect.fork(withAgentRetry(effect))
      yield* runToEnd(fiber)
      const [gap] = gaps(yield* Ref.get(times))
      expect(gap).toBeGreaterThanOrEqual(1000)
      expect(gap).toBeLessThanOrEqual(1300)
    }))

  it.effect.each([
    [400, http(400)],
    [401, http(401)],
    [403, http(403)],
    [404, http(404)],
    [409, http(409)],
    ["decode", new AgentDecodeError({ message: "bad body" })],
    ["missing credentials", new CredentialsMissing({ message: "not registered" })]
  ] as const)("%s is not retried by the schedule", ([, error]) =>
    Effect.gen(function* () {
      const { times, effect } = yield* scripted([error])
      const exit = yield* Effect.exit(withAgentRetry(effect))
      expect(exit._tag).toBe("Failure")
      expect((yield* Ref.get(times)).length).toBe(1)
    }))

  it.effect("maxRetries bounds the attempts", () =>
    Effect.gen(function* () {
      const { times, effect } = yield* scripted([http(500), http(500), http(500), http(500)])
      const fiber = yield* Effect.fork(withAgentRetry(effect, { maxRetries: 2 }))
      const exit = yield* runToEnd(fiber)
      expect(exit._tag).toBe("Failure")
      expect((yield* Ref.get(times)).length).toBe(3)
    }))
})

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-05-28T10:00:00Z")
  it("reads delta-seconds", () => {
    expect(parseRetryAfter("120", now)).toEqual(Duration.seconds(120))
    expect(parseRetryAfter(" 0 ", now)).toEqual(Duration.seconds(0))
  })
  it("reads an HTTP-date relative to now, and a past date as zero", () => {
    expect(parseRetryAfter("Thu, 28 May 2026 10:00:30 GMT", now)).toEqual(Duration.millis(30_000))
    expect(parseRetryAfter("Thu, 28 May 2026 09:00:00 GMT", now)).toEqual(Duration.millis(0))
  })
  it("ignores what is neither", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter("-5", now)).toBeUndefined()
    expect(parseRetryAfter("1.5", now)).toBeUndefined()
  })
})
