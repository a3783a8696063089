import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  AgentEvent,
  agentProtocolSchemas,
  AgentPaths,
  IntentHeader,
  IntentPayload,
  JobResult,
  JobsResponse,
  RegisterResponse,
  StatusUpdate
} from "../../src/api/agentProtocol.js"
import { wireJsonSchema } from "../../src/api/crdGen.js"

const decodeJobs = Schema.decodeUnknownEither(Schema.parseJson(JobsResponse))

describe("jobs long-poll response", () => {
  it("treats jobs: null like an empty queue and tolerates a missing key", () => {
    const a = decodeJobs('{"jobs":null}')
    const b = decodeJobs("{}")
    expect(Either.isRight(a) && (a.right.jobs ?? []).length === 0).toBe(true)
    expect(Either.isRight(b) && (b.right.jobs ?? []).length === 0).toBe(true)
  })

  it("decodes a job with nanosecond times, null expiry and unknown fields", () => {
    const body = JSON.stringify({
      jobs: [
        {
          id: "job-1",
          kind: "intent",
          payload: { intent: "request-operation", operation: {} },
          idempotencyKey: "applicationinstance/org-myteam/nextcloud-myteam@7",
          createdAt: "2026-05-28T10:00:15.123456789Z",
          expiresAt: null,
          signature: "c2ln",
          futureField: { x: 1 }
        },
        { id: "job-2", kind: "teleport", payload: null }
      ]
    })
    const decoded = decodeJobs(body)
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) {
      const [first, second] = decoded.right.jobs ?? []
      expect(first?.expiresAt).toBeNull()
      expect(first?.idempotencyKey).toBe("applicationinstance/org-myteam/nextcloud-myteam@7")
      // An unknown kind still decodes, so the agent can answer it with a failed result.
      expect(second?.kind).toBe("teleport")
    }
  })
})

describe("bodies the operator sends", () => {
  it("encodes a job result and rejects an unknown outcome", () => {
    const result = Schema.encodeSync(JobResult)({
      outcome: "succeeded",
      appliedRef: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", namespace: "", name: "c", generation: 3 },
      timestamp: "2026-05-28T10:00:15Z"
    })
    expect(JSON.parse(JSON.stringify(result))).toEqual({
      outcome: "succeeded",
      appliedRef: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", namespace: "", name: "c", generation: 3 },
      timestamp: "2026-05-28T10:00:15Z"
    })
    expect(Either.isLeft(Schema.decodeUnknownEither(JobResult)({ outcome: "maybe", timestamp: "x" }))).toBe(true)
  })

  it("accepts a condition whose lastTransitionTime is null (Go zero time)", () => {
    const event = {
      kind: "CredentialRotated",
      resourceRef: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", namespace: "", name: "c" },
      conditions: [
        {
          type: "Authenticated",
          status: "True",
          lastTransitionTime: null,
          reason: "CredentialRotated",
          message: "Bootstrap credential rotated successfully"
        }
      ],
      timestamp: "2026-05-28T10:00:15Z"
    }
    expect(Either.isRight(Schema.decodeUnknownEither(AgentEvent)(event))).toBe(true)
  })

  it("requires phase and timestamp on a status update", () => {
    expect(Either.isLeft(Schema.decodeUnknownEither(StatusUpdate)({ timestamp: "2026-05-28T10:00:15Z" }))).toBe(true)
  })
})

describe("registration", () => {
  it("requires clusterId and token", () => {
    expect(Either.isRight(Schema.decodeUnknownEither(RegisterResponse)({ clusterId: "c", token: "t" }))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(RegisterResponse)({ token: "t" }))).toBe(true)
  })
})

describe("intent payloads", () => {
  it("decode by name, and an unknown intent is still readable by its header", () => {
    const placeholder = {
      apiVersion: "apps.vworkspace.io/v1alpha1",
      kind: "ApplicationInstance",
      metadata: { name: "cluster-ops", namespace: "org-myteam" },
      spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
    }
    const ensure = Schema.decodeUnknownSync(IntentPayload)({
      intent: "ensure-application-instance",
      applicationInstance: placeholder
    })
    expect(ensure.intent).toBe("ensure-application-instance")
    expect(Schema.decodeUnknownSync(IntentPayload)({ intent: "rotate-operator-credentials" }).intent).toBe(
      "rotate-operator-credentials"
    )
    expect(Either.isLeft(Schema.decodeUnknownEither(IntentPayload)({ intent: "format-disk" }))).toBe(true)
    expect(Schema.decodeUnknownSync(IntentHeader)({ intent: "format-disk" }).intent).toBe("format-disk")
  })
})

describe("paths and JSON Schemas", () => {
  it("escapes job ids in paths", () => {
    expect(AgentPaths.ack("a/b c")).toBe("/api/agent/jobs/a%2Fb%20c/ack")
  })

  it("JSON Schemas allow unknown fields (receivers must ignore them)", () => {
    for (const [name, schema] of Object.entries(agentProtocolSchemas)) {
      expect(JSON.stringify(wireJsonSchema(schema)), name).not.toContain('"additionalProperties":false')
    }
  })
})
