/**
 * The phases this process last wrote, per Operation UID. The informer cache trails our own status
 * writes by a moment; a pass that starts before the cache has the write would otherwise see the
 * old phase and repeat the transition (materialise again, announce it twice). Such a pass stops;
 * the watch event of the write wakes the key again with the new state.
 */
import { Context, Effect, Layer, Ref } from "effect"

const rank = (phase: string | undefined): number =>
  phase === "Running" ? 1 : phase === "Succeeded" || phase === "Failed" || phase === "Cancelled" ? 2 : 0

export interface WrittenPhasesService {
  readonly remember: (uid: string, phase: string) => Effect.Effect<void>
  /** The cached phase is older than the one written; forgets the entry once the cache caught up. */
  readonly isBehind: (uid: string, cachedPhase: string | undefined) => Effect.Effect<boolean>
}

export class WrittenPhases extends Context.Tag("vworkspace/WrittenPhases")<WrittenPhases, WrittenPhasesService>() {
  static readonly live = Layer.effect(
    WrittenPhases,
    Effect.map(Ref.make(new Map<string, string>()), (ref) => ({
      remember: (uid, phase) => Ref.update(ref, (m) => new Map(m).set(uid, phase)),
      isBehind: (uid, cachedPhase) =>
        Ref.modify(ref, (m) => {
          const written = m.get(uid)
          if (written === undefined) return [false, m]
          if (rank(cachedPhase) < rank(written)) return [true, m]
          const next = new Map(m)
          next.delete(uid)
          return [false, next]
        })
    }))
  )
}
