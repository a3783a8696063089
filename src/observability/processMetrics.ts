/**
 * The process and Node.js series a Prometheus user expects (`process_*` as every client library
 * names them, a few `nodejs_*`), all read at scrape time from `process`: nothing runs between
 * scrapes, no event-loop or GC observers are installed.
 */
import { getHeapSpaceStatistics } from "node:v8"
import type { Registry } from "./exposition.js"

/** Each V8 heap space (`new`, `old`, `code`, `large_object`, …) and one of its sizes, as prom-client labels them. */
const heapSpaces = (size: (s: ReturnType<typeof getHeapSpaceStatistics>[number]) => number) =>
  getHeapSpaceStatistics().map((s) => ({ labels: { space: s.space_name.replace(/_space$/, "") }, value: size(s) }))

export const registerProcessMetrics = (registry: Registry): void => {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime())
  registry.counterFunction(
    { name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds" },
    () => {
      const { user, system } = process.cpuUsage()
      return (user + system) / 1e6
    }
  )
  registry.gaugeFunction({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds" }, () => [
    { value: startSeconds }
  ])
  registry.gaugeFunction({ name: "process_resident_memory_bytes", help: "Resident memory size in bytes" }, () => [
    { value: process.memoryUsage.rss() }
  ])
  registry.gaugeFunction(
    { name: "nodejs_heap_size_used_bytes", help: "V8 heap in use, in bytes" },
    () => [{ value: process.memoryUsage().heapUsed }]
  )
  registry.gaugeFunction(
    { name: "nodejs_heap_size_total_bytes", help: "V8 heap reserved, in bytes" },
    () => [{ value: process.memoryUsage().heapTotal }]
  )
  registry.gaugeFunction(
    { name: "nodejs_heap_space_size_total_bytes", help: "V8 heap space reserved, in bytes, by space", labelNames: ["space"] },
    () => heapSpaces((s) => s.space_size)
  )
  registry.gaugeFunction(
    { name: "nodejs_heap_space_size_used_bytes", help: "V8 heap space in use, in bytes, by space", labelNames: ["space"] },
    () => heapSpaces((s) => s.space_used_size)
  )
  registry.gaugeFunction(
    { name: "nodejs_external_memory_bytes", help: "Memory of C++ objects bound to JavaScript objects, in bytes" },
    () => [{ value: process.memoryUsage().external }]
  )
  registry.gaugeFunction(
    { name: "nodejs_version_info", help: "Node.js version info", labelNames: ["version"] },
    () => [{ labels: { version: process.version }, value: 1 }]
  )
}
