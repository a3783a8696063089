/**
 * The engines this operator runs, each registering itself in one EngineRegistry. Add an engine's
 * Layer here to make its templates runnable.
 */
import { Layer } from "effect"
import { engineRegistryLive } from "./engine.js"
import { helmHookJobEngineLayer } from "./helmHookJob.js"
import { jobEngineLayer } from "./job.js"

export const builtinEnginesLayer = Layer.mergeAll(jobEngineLayer, helmHookJobEngineLayer).pipe(
  Layer.provideMerge(engineRegistryLive)
)
