/**
 * A warning for a task that retries on its own: logged once per distinct error (again at debug on
 * every further attempt), and an info line once the task succeeds again. An SRE reads one line
 * per change of state instead of one per retry.
 */
import { Effect, Ref } from "effect"

export interface RepeatedWarning {
  /** Logs `error` at warn unless it is the one warned about last; at debug otherwise. */
  readonly warn: (error: { readonly message: string }) => Effect.Effect<void>
  /** After a success: logs `recovered` if a warning was out, and forgets it. */
  readonly clear: Effect.Effect<void>
}

export const makeRepeatedWarning = (options: { readonly warning: string; readonly recovered: string }): Effect.Effect<RepeatedWarning> =>
  Effect.map(Ref.make<string | undefined>(undefined), (last) => ({
    warn: (error) =>
      Effect.flatMap(Ref.getAndSet(last, error.message), (previous) =>
        (previous === error.message ? Effect.logDebug(options.warning) : Effect.logWarning(options.warning)).pipe(
          Effect.annotateLogs({ error: error.message })
        )
      ),
    clear: Effect.flatMap(Ref.getAndSet(last, undefined), (previous) => (previous === undefined ? Effect.void : Effect.logInfo(options.recovered)))
  }))
