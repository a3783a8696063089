/**
 * What decides whether and when an Operation starts, against a real API server: approvals,
 * concurrency (earlier blocks later, and a blocked operation starts by itself), the namespace's
 * allowed types, and bad input. Workloads are Jobs run by the real Job controller; the test plays
 * the kubelet.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import type { OperationEngine } from "../../src/api/operation.js"
import { engineRegistryLive, registerEngine } from "../../src/engines/engine.js"
import { jobEngineLayer } from "../../src/engines/job.js"
import { makeRunnerJobEngine } from "../../src/engines/runnerJob.js"
import { Resources } from "../../src/kube/resources.js"
import { issueClaim } from "../../src/validation/approvalClaim.js"
import { createTestNamespace } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { runJobPod } from "../support/kubelet.js"
import {
  annotate,
  applyAs,
  conditionOf,
  gated,
  getObject,
  operation,
  placeholderTarget,
  statusOf,
  waitPhase
} from "../support/operations.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"

const secret = plantedSecret("approval claim secret", "integration-secret")
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600
const claimFor = (name: string, exp = inAnHour()) => issueClaim(secret, { op: name, by: "alice", at: "2026-12-02T00:00:00Z", exp, rid: 1 })

/**
 * Concurrency is the reconciler's business, whatever the engine: these stand-ins for the velero
 * and helm engines run a Job, so the kubelet the test plays decides when they finish.
 */
const standIn = (name: OperationEngine) =>
  registerEngine(
    makeRunnerJobEngine({
      name,
      parameters: Schema.Unknown,
      jobSpec: () => ({ image: "busybox", backoffLimit: 0 }),
      reasons: { active: "Active", pending: "Pending", succeeded: "Done", failed: "Failed", backoffExceeded: "Failed", deadlineExceeded: "Failed" }
    })
  )
const standInEngines = Layer.mergeAll(jobEngineLayer, standIn("velero"), standIn("helm")).pipe(Layer.provideMerge(engineRegistryLive))

const setup = (prefix: string, capabilities: Readonly<Record<string, string>> = { runcommand: "job" }) =>
  Effect.gen(function* () {
    const ns = yield* createTestNamespace(prefix, gated)
    yield* startTestOperator({ namespace: ns, config: { approvalClaimSecret: Redacted.make(secret) }, engines: standInEngines })
    yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "app", capabilities))
    return ns
  })

const runCommand = (ns: string, name: string, extra: { readonly approvals?: unknown; readonly target?: string; readonly parameters?: unknown } = {}) =>
  applyAs(
    Resources.Operation,
    operation(ns, name, {
      type: "RunCommand",
      engine: "job",
      target: extra.target ?? "app",
      parameters: extra.parameters ?? { image: "busybox", backoffLimit: 0 },
      ...(extra.approvals === undefined ? {} : { approvals: extra.approvals })
    })
  )

const blockedWith = (ns: string, name: string, reason: string) =>
  Effect.map(waitPhase(ns, name, "Pending", { type: "Blocked", reason }), (o) => {
    const blocked = conditionOf(o, "Blocked")
    expect(conditionOf(o, "Accepted")).toMatchObject({ status: "False", reason, message: blocked?.message })
    return blocked?.message
  })

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("operation admission", (it) => {
  it.scoped("approvals: missing, bad signature, wrong name and expired claims wait; a valid claim starts; expiry never sends a started operation back", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-approve")
      yield* runCommand(ns, "no-claim", { approvals: { required: true } })
      const forged = claimFor("bad-sig").slice(0, -4) + "0000"
      yield* runCommand(ns, "bad-sig", { approvals: { required: true, claim: forged } })
      yield* runCommand(ns, "wrong-name", { approvals: { required: true, claim: claimFor("someone-else") } })
      yield* runCommand(ns, "expired", { approvals: { required: true, claim: claimFor("expired", 1_700_000_000) } })
      yield* runCommand(ns, "valid", { approvals: { required: true, claim: claimFor("valid") } })

      expect(yield* blockedWith(ns, "no-claim", "AwaitingApproval")).toBe(
        "approval claim required: set spec.approvals.claim to a vws1 claim issued for this operation"
      )
      expect(yield* blockedWith(ns, "bad-sig", "AwaitingApproval")).toBe("invalid approval claim: approval claim signature mismatch")
      expect(yield* blockedWith(ns, "wrong-name", "AwaitingApproval")).toBe(
        'invalid approval claim: approval claim operation "someone-else" does not match "wrong-name"'
      )
      expect(yield* blockedWith(ns, "expired", "AwaitingApproval")).toBe("invalid approval claim: approval claim expired")
      yield* waitPhase(ns, "valid", "Running")

      // The claim arrives later: the operation starts by itself.
      yield* runCommand(ns, "no-claim", { approvals: { required: true, claim: claimFor("no-claim") } })
      yield* waitPhase(ns, "no-claim", "Running")

      // An expired claim on a started operation changes nothing.
      yield* runCommand(ns, "valid", { approvals: { required: true, claim: claimFor("valid", 1_700_000_000) } })
      yield* runJobPod(ns, `${ns}--valid`, 0)
      yield* waitPhase(ns, "valid", "Succeeded")
    })
  )

  it.scoped("concurrency: an earlier operation blocks a later conflicting one, never the reverse; the later one starts when the earlier ends", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-conc", { backup: "velero", restore: "velero", upgrade: "helm", runcommand: "job" })
      const op = (name: string, type: string, engine: string, approvals?: unknown) =>
        applyAs(
          Resources.Operation,
          operation(ns, name, {
            type,
            engine,
            target: "app",
            ...(type === "Restore" ? { parameters: { backupName: "nightly" } } : {}),
            ...(approvals === undefined ? {} : { approvals })
          })
        )

      yield* op("a-backup", "Backup", "velero")
      yield* waitPhase(ns, "a-backup", "Running")
      yield* op("b-restore", "Restore", "velero", { claim: claimFor("b-restore") })
      expect(yield* blockedWith(ns, "b-restore", "ConflictingOperation")).toBe(
        'conflicts with operation "a-backup" (Backup); it starts when that operation finishes'
      )
      // Commands never conflict.
      yield* runCommand(ns, "c-command")
      yield* waitPhase(ns, "c-command", "Running")
      // A Backup created after the waiting Restore waits behind it (the Restore came first).
      yield* op("d-backup", "Backup", "velero")
      expect(yield* blockedWith(ns, "d-backup", "ConflictingOperation")).toMatch(/^conflicts with operation "(a-backup|b-restore)"/)
      // The running Backup is never sent back by the later ones.
      expect(statusOf(Option.getOrThrow(yield* getObject(Resources.Operation, ns, "a-backup"))).phase).toBe("Running")

      yield* runJobPod(ns, `${ns}--a-backup`, 0)
      yield* waitPhase(ns, "a-backup", "Succeeded")
      yield* waitPhase(ns, "b-restore", "Running")
      expect(yield* blockedWith(ns, "d-backup", "ConflictingOperation")).toBe(
        'conflicts with operation "b-restore" (Restore); it starts when that operation finishes'
      )
      yield* runJobPod(ns, `${ns}--b-restore`, 1)
      yield* waitPhase(ns, "b-restore", "Failed")
      yield* waitPhase(ns, "d-backup", "Running")

      // Upgrade blocks Upgrade: the earlier runs, the later waits and then starts.
      yield* op("e-upgrade", "Upgrade", "helm")
      yield* waitPhase(ns, "e-upgrade", "Running")
      yield* op("f-upgrade", "Upgrade", "helm")
      yield* blockedWith(ns, "f-upgrade", "ConflictingOperation")
      yield* annotate(Resources.Operation, ns, "e-upgrade", { "ops.vworkspace.io/cancel": "true" })
      yield* waitPhase(ns, "e-upgrade", "Cancelled")
      yield* waitPhase(ns, "f-upgrade", "Running")
    })
  )

  it.scoped("allowed-types: a type the namespace does not list waits until the namespace allows it", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-types")
      yield* annotate(Resources.Namespace, undefined, ns, { "ops.vworkspace.io/allowed-types": "Backup, Restore" })
      yield* runCommand(ns, "cmd")
      expect(yield* blockedWith(ns, "cmd", "ValidationFailed")).toBe(
        `operation type "RunCommand" not allowed in namespace "${ns}" (annotation ops.vworkspace.io/allowed-types)`
      )
      yield* annotate(Resources.Namespace, undefined, ns, { "ops.vworkspace.io/allowed-types": "Backup, RunCommand" })
      yield* waitPhase(ns, "cmd", "Running")
    })
  )

  it.scoped("bad input: precise, stable messages; nothing stalls silently", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-bad")
      yield* applyAs(Resources.Operation, operation(ns, "pair", { type: "Backup", engine: "job", target: "app" }))
      expect(yield* blockedWith(ns, "pair", "ValidationFailed")).toMatch(
        /^no built-in operation template for type "Backup" and engine "job" \(expected refs such as backup\.velero, /
      )
      yield* runCommand(ns, "schema", { parameters: { image: "busybox", env: { A: "1" }, extra: true } })
      const schemaMessage = yield* blockedWith(ns, "schema", "ValidationFailed")
      expect(schemaMessage).toMatch(/^parameters invalid for template runCommand\.job: /)
      expect(schemaMessage).toContain('extra: is unexpected, expected: "image" | "command"')
      expect(schemaMessage).toContain('env: Expected ReadonlyArray<{ readonly name: minLength(1);')
      yield* runCommand(ns, "no-target", { target: "later" })
      expect(yield* blockedWith(ns, "no-target", "TargetNotReady")).toBe(`target ApplicationInstance "later" not found in namespace "${ns}"`)
      yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "bare", {}))
      yield* runCommand(ns, "no-capability", { target: "bare" })
      expect(yield* blockedWith(ns, "no-capability", "CapabilityMissing")).toBe(
        'target "bare" missing capability annotation ops.vworkspace.io/runcommand="job" required for template runCommand.job; annotate the ApplicationInstance to allow it'
      )
      // Fixing the input starts them: the target appears, the capability is granted.
      yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "later", { runcommand: "job" }))
      yield* waitPhase(ns, "no-target", "Running")
      yield* annotate(Resources.ApplicationInstance, ns, "bare", { "ops.vworkspace.io/runcommand": "job" })
      yield* waitPhase(ns, "no-capability", "Running")
      yield* runCommand(ns, "schema", { parameters: { image: "busybox" } })
      yield* waitPhase(ns, "schema", "Running")
    })
  )
})
