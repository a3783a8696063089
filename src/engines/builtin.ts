/**
 * The engines this operator runs, each registering itself in one EngineRegistry. Add an engine's
 * Layer here to make its templates runnable.
 */
import { Layer } from "effect"
import { engineRegistryLive } from "./engine.js"
import { helmEngineLayer } from "./helm.js"
import { helmHookJobEngineLayer } from "./helmHookJob.js"
import { jobEngineLayer } from "./job.js"
import { snapshotEngineLayer } from "./snapshot.js"
import { veleroEngineLayer } from "./velero.js"
import { volsyncEngineLayer } from "./volsync.js"
import { workflowEngineLayer } from "./workflow.js"

export const builtinEnginesLayer = Layer.mergeAll(
  jobEngineLayer,
  helmHookJobEngineLayer,
  workflowEngineLayer,
  veleroEngineLayer,
  helmEngineLayer,
  volsyncEngineLayer,
  snapshotEngineLayer
).pipe(
  Layer.provideMerge(engineRegistryLive)
)
