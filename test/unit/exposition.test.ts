import { execFileSync } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { escapeLabelValue, formatValue, InvalidMetricDefinition, Registry } from "../../src/observability/exposition.js"
import { makeMetrics } from "../../src/observability/metrics.js"

/** promtool's verdict on an exposition (exit code and its findings). */
const promtool = (text: string): { readonly ok: boolean; readonly output: string } => {
  try {
    return { ok: true, output: execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8", stdio: "pipe" }) }
  } catch (e) {
    const failure = e as { stdout?: string; stderr?: string }
    return { ok: false, output: `${failure.stdout ?? ""}${failure.stderr ?? ""}` }
  }
}

describe("Prometheus text exposition", () => {
  it("renders counters, gauges and histograms with HELP, TYPE and labels", () => {
    const registry = new Registry()
    const requests = registry.counter({ name: "demo_requests_total", help: "Requests", labelNames: ["code"] })
    const depth = registry.gauge({ name: "demo_depth", help: "Depth" })
    const latency = registry.histogram({ name: "demo_latency_seconds", help: "Latency", labelNames: ["op"], buckets: [0.5, 0.1, 1] })
    requests.inc({ code: "200" })
    requests.inc({ code: "200" }, 2)
    requests.inc({ code: "500" })
    depth.set(undefined, 7)
    latency.observe({ op: "get" }, 0.05)
    latency.observe({ op: "get" }, 0.7)
    latency.observe({ op: "get" }, 3)
    expect(registry.render()).toBe(
      [
        "# HELP demo_requests_total Requests",
        "# TYPE demo_requests_total counter",
        'demo_requests_total{code="200"} 3',
        'demo_requests_total{code="500"} 1',
        "# HELP demo_depth Depth",
        "# TYPE demo_depth gauge",
        "demo_depth 7",
        "# HELP demo_latency_seconds Latency",
        "# TYPE demo_latency_seconds histogram",
        'demo_latency_seconds_bucket{op="get",le="0.1"} 1',
        'demo_latency_seconds_bucket{op="get",le="0.5"} 1',
        'demo_latency_seconds_bucket{op="get",le="1"} 2',
        'demo_latency_seconds_bucket{op="get",le="+Inf"} 3',
        'demo_latency_seconds_sum{op="get"} 3.75',
        'demo_latency_seconds_count{op="get"} 3',
        ""
      ].join("\n")
    )
  })

  it("escapes HELP text and label values", () => {
    const registry = new Registry()
    registry.gauge({ name: "demo_info", help: 'line one\nback\\slash "quoted"', labelNames: ["path"] }).set({ path: 'a"b\\c\nd' }, 1)
    const text = registry.render()
    expect(text).toContain('# HELP demo_info line one\\nback\\\\slash "quoted"')
    expect(text).toContain('demo_info{path="a\\"b\\\\c\\nd"} 1')
    expect(escapeLabelValue("plain")).toBe("plain")
    expect(promtool(text).ok).toBe(true)
  })

  it("formats special floats the way Prometheus parses them", () => {
    expect([NaN, Infinity, -Infinity, 0.25].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0.25"])
  })

  it("refuses bad definitions", () => {
    const registry = new Registry()
    expect(() => registry.counter({ name: "no_suffix", help: "x" })).toThrow(InvalidMetricDefinition)
    expect(() => registry.gauge({ name: "bad-name", help: "x" })).toThrow(InvalidMetricDefinition)
    expect(() => registry.gauge({ name: "ok_gauge", help: "x", labelNames: ["__reserved"] })).toThrow(InvalidMetricDefinition)
    expect(() => registry.histogram({ name: "h_seconds", help: "x", labelNames: ["le"], buckets: [1] })).toThrow(InvalidMetricDefinition)
    registry.gauge({ name: "twice", help: "x" })
    expect(() => registry.gauge({ name: "twice", help: "x" })).toThrow(InvalidMetricDefinition)
  })

  it("promtool refuses what it should (the check is real)", () => {
    expect(promtool("# TYPE x counter\nx{a=\"1\" 1\n").ok).toBe(false)
  })

  it.effect("every operator series, process ones included, passes promtool check metrics", () =>
    Effect.gen(function* () {
      let clock = 1_000_000
      const metrics = makeMetrics({ processMetrics: true, now: () => clock })
      yield* metrics.controller("applicationinstance").reconciled("success", 0.02)
      yield* metrics.controller("applicationinstance").reconcileError(false)
      yield* metrics.workQueue("applicationinstance").add
      yield* metrics.workQueue("applicationinstance").queueDuration(0.001)
      metrics.pullAgent.jobStarted("job-1", clock - 5_000)
      metrics.connectivity.state("pull", () => 1)
      metrics.connectivity.credentialIssuedAt(clock - 60_000)
      metrics.operationFinished({ type: "Backup", engine: "velero", result: "succeeded" })
      metrics.managedNamespaces(3)
      clock += 1_000
      const text = yield* metrics.render
      expect(text).toContain("vworkspace_operator_pull_job_lag_seconds 6")
      expect(text).toContain("vworkspace_operator_credential_age_seconds 61")
      expect(text).toContain('vworkspace_operator_connectivity_state{mode="pull"} 1')
      expect(text).toContain('vworkspace_operator_operation_total{type="Backup",engine="velero",result="succeeded"} 1')
      expect(text).toContain('workqueue_work_duration_seconds_count{name="applicationinstance"} 1')
      expect(text).toMatch(/^process_resident_memory_bytes \d+$/m)
      for (const space of ["new", "old", "code", "large_object"]) {
        expect(text).toMatch(new RegExp(`^nodejs_heap_space_size_total_bytes\\{space="${space}"\\} [1-9]\\d*$`, "m"))
        expect(text).toMatch(new RegExp(`^nodejs_heap_space_size_used_bytes\\{space="${space}"\\} \\d+$`, "m"))
      }
      metrics.pullAgent.jobFinished("job-1", true)
      const after = yield* metrics.render
      expect(after).toContain("vworkspace_operator_pull_job_lag_seconds 0")
      expect(after).toContain("vworkspace_operator_applied_jobs_total 1")
      const verdict = promtool(after)
      expect(verdict.output).toBe("")
      expect(verdict.ok).toBe(true)
    })
  )
})
