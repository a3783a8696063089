import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import {
  Conflict,
  Forbidden,
  Invalid,
  type KubeError,
  NotFound,
  ServerError,
  TooManyRequests,
  Transport
} from "../../src/kube/errors.js"
import { withKubeRetry } from "../../src/kube/retry.js"

/** An effect that fails with the given errors in turn, then succeeds; counts its attempts. */
const failingWith = (errors: ReadonlyArray<KubeError>) =>
  Effect.gen(function* () {
    const attempts = yield* Ref.make(0)
    const effect = Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
      Effect.flatMap((n) => {
        const error = errors[n]
        return error === undefined ? Effect.succeed("ok") : Effect.fail(error)
      })
    )
    return { attempts, effect }
  })

describe("kubeRetry", () => {
  it.effect("a 429 with retryAfter 3s is not retried before 3s, then is", () =>
    Effect.gen(function* () {
      const { attempts, effect } = yield* failingWith([
        new TooManyRequests({ message: "slow down", retryAfter: Duration.seconds(3) })
      ])
      const fiber = yield* Effect.fork(withKubeRetry(effect))
      yield* TestClock.adjust(Duration.millis(2999))
      expect(yield* Ref.get(attempts)).toBe(1)
      expect(yield* Fiber.poll(fiber)).toEqual(expect.objectContaining({ _tag: "None" }))
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(attempts)).toBe(2)
    }))

  it.effect("a 429 with a short retryAfter still waits for the backoff delay", () =>
    Effect.gen(function* () {
      const { attempts, effect } = yield* failingWith([
        new TooManyRequests({ message: "slow down", retryAfter: Duration.millis(1) })
      ])
      const fiber = yield* Effect.fork(withKubeRetry(effect, { base: Duration.seconds(1) }))
      // Jitter keeps the first delay within 0.8–1.2 × base.
      yield* TestClock.adjust(Duration.millis(790))
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust(Duration.millis(420))
      expect(yield* Fiber.join(fiber)).toBe("ok")
    }))

  it.effect.each([
    new Invalid({ message: "bad", causes: [{ field: "metadata.name", message: "invalid" }] }),
    new Forbidden({ message: "no" }),
    new NotFound({ message: "gone" }),
    new Conflict({ message: "stale" }),
    new ServerError({ status: 400, message: "bad request" })
  ])("does not retry $_tag", (error) =>
    Effect.gen(function* () {
      const { attempts, effect } = yield* failingWith([error])
      const exit = yield* Effect.exit(withKubeRetry(effect))
      expect(exit).toEqual(Exit.fail(error))
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("retries transient errors with jittered, doubling, capped delays, up to maxRetries", () =>
    Effect.gen(function* () {
      const error = new ServerError({ status: 503, message: "unavailable" })
      const times = yield* Ref.make<ReadonlyArray<number>>([])
      const effect = Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Ref.update(times, (ts) => [...ts, now])),
        Effect.zipRight(Effect.fail(error))
      )
      const fiber = yield* Effect.fork(
        withKubeRetry(effect, { base: Duration.seconds(1), cap: Duration.seconds(3), maxRetries: 3 })
      )
      yield* TestClock.adjust(Duration.seconds(60))
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(error))
      const ts = yield* Ref.get(times)
      expect(ts).toHaveLength(4)
      const gaps = ts.slice(1).map((t, i) => t - (ts[i] ?? 0))
      // base × 2^n, ±20 % jitter, then the 3 s cap: 4 s × 0.8 is already above it.
      expect(gaps[0]).toBeGreaterThanOrEqual(800)
      expect(gaps[0]).toBeLessThanOrEqual(1200)
      expect(gaps[1]).toBeGreaterThanOrEqual(1600)
      expect(gaps[1]).toBeLessThanOrEqual(2400)
      expect(gaps[2]).toBeCloseTo(3000, 6)
    }))

  it.effect("retries a transport error and succeeds", () =>
    Effect.gen(function* () {
      const { attempts, effect } = yield* failingWith([new Transport({ message: "ECONNRESET" })])
      const fiber = yield* Effect.fork(withKubeRetry(effect))
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(attempts)).toBe(2)
    }))
})
