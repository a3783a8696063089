/** Waiting for a condition with a deadline: the only way tests wait. */
import { Data, Duration, Effect, Schedule } from "effect"

export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{ readonly message: string }> {}

/**
 * Re-runs `probe` until it yields a value (not `undefined`), every `interval`, failing with
 * `WaitTimedOut` after `timeout`. The last probe result is described in the error.
 */
export const waitFor = <A, E, R>(
  what: string,
  probe: Effect.Effect<A | undefined, E, R>,
  options: { readonly timeout?: Duration.DurationInput; readonly interval?: Duration.DurationInput } = {}
): Effect.Effect<A, E | WaitTimedOut, R> =>
  probe.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail("not yet" as const) : Effect.succeed(a))),
    Effect.retry({
      schedule: Schedule.spaced(options.interval ?? Duration.millis(100)),
      while: (e) => e === "not yet"
    }),
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.seconds(30),
      onTimeout: () => new WaitTimedOut({ message: `timed out waiting for ${what}` })
    }),
    Effect.catchIf(
      (e): e is "not yet" => e === "not yet",
      () => Effect.fail(new WaitTimedOut({ message: `timed out waiting for ${what}` }))
    )
  )
