import { Effect } from "effect"
import { launchCluster, stopCluster, targetFromKubeconfig, installAllCrds } from "./index.js"
const t0 = Date.now()
const info = await Effect.runPromise(launchCluster())
const t1 = Date.now()
const crds = await Effect.runPromise(Effect.flatMap(targetFromKubeconfig(info.kubeconfigPath), (t) => installAllCrds(t)))
const t2 = Date.now()
await Effect.runPromise(stopCluster(info))
const t3 = Date.now()
console.log(`ready ${t1 - t0} ms; ${crds.length} CRDs established after ${t2 - t1} ms more; total ${t2 - t0} ms; stop ${t3 - t2} ms`)
