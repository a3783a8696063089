/**
 * CPU time spent during a timed segment, by this process (the harness, or the in-process operator
 * under measurement) and by the API server and etcd the run started. On a small machine they
 * share the cores, so CPU the operator burns is CPU the API server it waits on does not get.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { runCommand } from "../src/devcluster/process.js"

export interface ClusterPids {
  readonly apiserver: number
  readonly etcd: number
}

export interface CpuSnapshot {
  readonly selfMs: number
  /** Undefined when the cluster is not ours (VWORKSPACE_TEST_KUBECONFIG) or /proc is unreadable. */
  readonly apiserverMs: number | undefined
  readonly etcdMs: number | undefined
}

/** Clock ticks per second of /proc/<pid>/stat times, from `getconf CLK_TCK`. */
export const clockTicks: Effect.Effect<number | undefined> = runCommand("getconf", ["CLK_TCK"]).pipe(
  Effect.map((out) => {
    const n = Number(out.trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  }),
  Effect.orElseSucceed(() => undefined)
)

/** utime + stime of `pid` in ms; fields 14 and 15 of /proc/<pid>/stat, after the `(comm)` field. */
export const procCpuMs = (pid: number, ticks: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / ticks : undefined
  } catch {
    return undefined
  }
}

export const cpuSnapshot = (pids: ClusterPids | undefined, ticks: number | undefined): CpuSnapshot => {
  const self = process.cpuUsage()
  return {
    selfMs: (self.user + self.system) / 1000,
    apiserverMs: pids === undefined || ticks === undefined ? undefined : procCpuMs(pids.apiserver, ticks),
    etcdMs: pids === undefined || ticks === undefined ? undefined : procCpuMs(pids.etcd, ticks)
  }
}

const delta = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : b - a

/**
 * `this process 3.1 s, kube-apiserver 20.4 s, etcd 4.0 s` of CPU between two snapshots; with `per`,
 * each also per item, e.g. `kube-apiserver 20.4 s (2.04 ms/job)`.
 */
export const describeCpu = (before: CpuSnapshot, after: CpuSnapshot, per?: { readonly count: number; readonly unit: string }): string => {
  const s = (ms: number | undefined) =>
    ms === undefined ? "n/a" : `${(ms / 1000).toFixed(1)} s${per === undefined ? "" : ` (${(ms / per.count).toFixed(2)} ms/${per.unit})`}`
  return `this process ${s(after.selfMs - before.selfMs)}, kube-apiserver ${s(delta(before.apiserverMs, after.apiserverMs))}, etcd ${s(delta(before.etcdMs, after.etcdMs))}`
}
