/** The mock control plane and the live AgentClient against each other, over loopback HTTP. */
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, SubscriptionRef } from "effect"
import { AgentMediaType } from "../../src/api/agentProtocol.js"
import { AgentHttpError } from "../../src/connectivity/agentClient.js"
import { tokenFingerprint } from "../../src/connectivity/mock/state.js"
import { agentClientFor, startMock } from "../support/mockControlPlane.js"

const clusterId = "cluster-test-1"
const agentToken = "vwksp-agent-seeded"
const now = () => new Date().toISOString()

const registered = (options: Parameters<typeof startMock>[0] = {}) =>
  Effect.gen(function* () {
    const { mock, admin } = yield* startMock({ agentTokens: [{ token: agentToken, clusterId }], ...options })
    const { client, ref } = yield* agentClientFor({ baseUrl: `${mock.url}/`, clusterId, token: agentToken })
    return { mock, admin, client, ref }
  })

const job = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: "apply",
  payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "y" } },
  idempotencyKey: `configmap/y/x@${id}`,
  createdAt: now(),
  ...extra
})

const httpStatus = (e: unknown) => (e instanceof AgentHttpError ? e.status : undefined)

describe("mock control plane: registration", () => {
  it.scopedLive("a known registration token is exchanged once, then refused; unknown and expired ones are refused", () =>
    Effect.gen(function* () {
      const { mock, admin } = yield* startMock({ registrationTokens: [{ token: "vwksp-reg-1", clusterId }] })
      yield* admin.addRegistrationToken({ token: "vwksp-reg-expired", ttlSeconds: 0 })
      const { client } = yield* agentClientFor(undefined)
      const first = yield* client.register(mock.url, { registrationToken: "vwksp-reg-1" })
      expect(first.clusterId).toBe(clusterId)
      expect(first.token).toMatch(/^vwksp-agent-/)
      const again = yield* Effect.flip(client.register(mock.url, { registrationToken: "vwksp-reg-1" }))
      expect(again).toMatchObject({ _tag: "AgentHttpError", status: 401, code: "RegistrationTokenUsed" })
      expect(again.message).toMatch(/^register API error \(401\): RegistrationTokenUsed: /)
      const unknown = yield* Effect.flip(client.register(mock.url, { registrationToken: "vwksp-reg-nope" }))
      expect(unknown).toMatchObject({ status: 401, code: "InvalidRegistrationToken" })
      yield* Effect.sleep(Duration.millis(5))
      const expired = yield* Effect.flip(client.register(mock.url, { registrationToken: "vwksp-reg-expired" }))
      expect(expired).toMatchObject({ status: 401, code: "RegistrationTokenExpired" })
      // The issued token works on the agent API.
      const { client: agent } = yield* agentClientFor({ baseUrl: mock.url, clusterId, token: first.token })
      expect(yield* agent.fetchJobs(0)).toEqual([])
    }))
})

describe("mock control plane: jobs", () => {
  it.scopedLive("an empty poll is `jobs: null` on the wire and [] to the client; headers follow §2.1", () =>
    Effect.gen(function* () {
      const { mock, admin, client } = yield* registered()
      const raw = yield* Effect.promise(() =>
        fetch(`${mock.url}/api/agent/jobs?cluster=${clusterId}&wait=0`, {
          headers: { Accept: AgentMediaType, Authorization: `Bearer ${agentToken}` }
        }).then((r) => r.text())
      )
      expect(raw).toBe('{"jobs":null}')
      expect(yield* client.fetchJobs(0)).toEqual([])
      yield* admin.enqueue(clusterId, job("j/1 x"))
      const [fetched] = yield* client.fetchJobs(1)
      expect(fetched?.id).toBe("j/1 x")
      expect(yield* client.ack("j/1 x")).toBe("accepted")
      yield* client.postStatus("j/1 x", { phase: "Reconciling", timestamp: now() })
      expect(yield* client.postResult("j/1 x", { outcome: "succeeded", timestamp: now() })).toBe("accepted")
      yield* client.rotateCredentials
      const log = yield* admin.requests
      const byRoute = (route: string) => log.filter((r) => r.route === route)
      for (const r of log) {
        expect(r.accept).toBe(AgentMediaType)
        expect(r.tokenFingerprint).toBe(tokenFingerprint(agentToken))
      }
      expect(byRoute("jobs")[0]?.path).toBe(`/api/agent/jobs?cluster=${clusterId}&wait=0`)
      expect(byRoute("jobs").every((r) => r.contentType === "" && r.bodyBytes === 0)).toBe(true)
      expect(byRoute("ack")[0]).toMatchObject({ path: "/api/agent/jobs/j%2F1%20x/ack", contentType: "", bodyBytes: 0, status: 204 })
      expect(byRoute("status")[0]).toMatchObject({ contentType: AgentMediaType, status: 204 })
      expect(byRoute("result")[0]).toMatchObject({ contentType: AgentMediaType, status: 204 })
      expect(byRoute("rotate")[0]).toMatchObject({ contentType: AgentMediaType, bodyBytes: 2, status: 200 })
      const view = yield* admin.job("j/1 x")
      expect(view).toMatchObject({ acked: true, deliveries: 1, result: { outcome: "succeeded" } })
      expect(view.statuses.map((s) => s.phase)).toEqual(["Reconciling"])
    }))

  it.scopedLive("an unacked job is delivered again after the redelivery window; an acked one is not", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered({ redeliverAfterMillis: 200 })
      yield* admin.enqueue(clusterId, job("a"))
      yield* admin.enqueue(clusterId, job("b"))
      expect((yield* client.fetchJobs(0)).map((j) => j.id)).toEqual(["a", "b"])
      yield* client.ack("a")
      expect(yield* client.fetchJobs(0)).toEqual([])
      // The long poll wakes up when "b" is due again.
      expect((yield* client.fetchJobs(5)).map((j) => j.id)).toEqual(["b"])
      expect((yield* admin.job("b")).deliveries).toBe(2)
      expect((yield* admin.job("a")).deliveries).toBe(1)
    }))

  it.scopedLive("the long poll answers as soon as a job is enqueued", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      const poll = yield* Effect.fork(client.fetchJobs(30))
      yield* Effect.sleep(Duration.millis(100))
      yield* admin.enqueue(clusterId, job("late"))
      const jobs = yield* poll.await.pipe(Effect.flatten, Effect.timeout(Duration.seconds(10)))
      expect(jobs.map((j) => j.id)).toEqual(["late"])
    }))

  it.scopedLive("one result per job: a second is 409 (alreadyClosed), and an ack after the result is 409 too", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      yield* admin.enqueue(clusterId, job("once"))
      yield* client.ack("once")
      expect(yield* client.postResult("once", { outcome: "noop", timestamp: now() })).toBe("accepted")
      expect(yield* client.postResult("once", { outcome: "succeeded", timestamp: now() })).toBe("alreadyClosed")
      expect(yield* client.ack("once")).toBe("alreadyClosed")
      const view = yield* admin.job("once")
      expect(view.result?.outcome).toBe("noop")
      expect(view.duplicateResults).toBe(1)
    }))

  it.scopedLive("unknown job: 404; a failed result without error and an unknown outcome: 400", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      expect(httpStatus(yield* Effect.flip(client.ack("missing")))).toBe(404)
      yield* admin.enqueue(clusterId, job("r"))
      const noError = yield* Effect.flip(client.postResult("r", { outcome: "failed", timestamp: now() }))
      expect(noError).toMatchObject({ status: 400, code: "MissingError" })
    }))

  it.scopedLive("unknown fields are ignored; a malformed element arrives as Malformed with its id", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      yield* admin.enqueue(clusterId, job("extra", { futureField: { a: 1 } }))
      yield* admin.enqueue(clusterId, { id: "bad", kind: 7, payload: {} })
      const envelopes = yield* client.fetchJobEnvelopes(0)
      expect(envelopes[0]).toMatchObject({ _tag: "Valid", job: { id: "extra" } })
      expect(envelopes[0]?._tag === "Valid" && "futureField" in envelopes[0].job).toBe(false)
      expect(envelopes[1]).toMatchObject({ _tag: "Malformed", id: "bad" })
      expect(envelopes[1]?._tag === "Malformed" && envelopes[1].message).toMatch(/kind/)
    }))

  it.scopedLive("another cluster's id on /jobs is 403; no token is 401", () =>
    Effect.gen(function* () {
      const { mock } = yield* registered()
      const { client: wrong } = yield* agentClientFor({ baseUrl: mock.url, clusterId: "other", token: agentToken })
      expect(yield* Effect.flip(wrong.fetchJobs(0))).toMatchObject({ status: 403, code: "Forbidden" })
      const { client: none } = yield* agentClientFor({ baseUrl: mock.url, clusterId, token: "vwksp-agent-unknown" })
      expect(yield* Effect.flip(none.fetchJobs(0))).toMatchObject({ status: 401, code: "Unauthorized" })
      const { client: missing } = yield* agentClientFor(undefined)
      expect(yield* Effect.flip(missing.fetchJobs(0))).toMatchObject({ _tag: "CredentialsMissing" })
    }))
})

describe("mock control plane: events and rotation", () => {
  it.scopedLive("events are de-duplicated on eventKey per cluster, and re-posts are counted", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      const event = (key: string | undefined) => ({
        ...(key === undefined ? {} : { eventKey: key }),
        kind: "ConditionTransition",
        resourceRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", namespace: "ns", name: "a" },
        timestamp: now()
      })
      yield* client.postEvents([event("k1"), event("k2"), event(undefined)])
      yield* client.postEvents([event("k1"), event(undefined)])
      const view = yield* admin.events(clusterId, { kind: "ApplicationInstance", eventKind: "ConditionTransition" })
      expect(view.events.map((e) => e.event.eventKey)).toEqual(["k1", "k2", undefined, undefined])
      expect(view.duplicatePosts).toEqual({ k1: 1 })
      expect((yield* admin.events(clusterId, { name: "other" })).events).toEqual([])
    }))

  it.scopedLive("rotation without grace: the old token is refused at once, the new one works", () =>
    Effect.gen(function* () {
      const { client, ref } = yield* registered()
      const rotated = yield* client.rotateCredentials
      expect(rotated.token).not.toBe(agentToken)
      expect(yield* Effect.flip(client.fetchJobs(0))).toMatchObject({ status: 401 })
      yield* SubscriptionRef.update(ref, Option.map((c) => ({ ...c, token: rotated.token })))
      expect(yield* client.fetchJobs(0)).toEqual([])
    }))

  it.scopedLive("rotation with a grace period: the old token works until the grace is over", () =>
    Effect.gen(function* () {
      const { client } = yield* registered({ rotationGraceMillis: 300 })
      yield* client.rotateCredentials
      expect(yield* client.fetchJobs(0)).toEqual([])
      yield* Effect.sleep(Duration.millis(400))
      expect(yield* Effect.flip(client.fetchJobs(0))).toMatchObject({ status: 401 })
    }))
})

describe("mock control plane: injected faults and the client's errors", () => {
  it.scopedLive("401, 403, 429 with Retry-After (seconds and HTTP-date), 503 and a dropped connection", () =>
    Effect.gen(function* () {
      const { admin, client } = yield* registered()
      yield* admin.addFaults([{ status: 401, routes: ["jobs"], count: 1 }])
      const e401 = yield* Effect.flip(client.fetchJobs(0))
      expect(e401).toMatchObject({ _tag: "AgentHttpError", status: 401, code: "Unauthorized" })
      expect(e401.message).toBe("agent API error (401): Unauthorized: injected fault")
      yield* admin.addFaults([{ status: 403, code: "IdentityDisabled", message: "disabled", count: 1 }])
      expect(yield* Effect.flip(client.ack("x"))).toMatchObject({ status: 403, code: "IdentityDisabled" })
      yield* admin.addFaults([{ status: 429, retryAfter: "7", count: 1 }])
      const e429 = yield* Effect.flip(client.fetchJobs(0))
      expect(e429._tag === "AgentHttpError" && e429.retryAfter).toEqual(Duration.seconds(7))
      const at = new Date(Date.now() + 60_000).toUTCString()
      yield* admin.addFaults([{ status: 429, retryAfter: at, count: 1 }])
      const e429d = yield* Effect.flip(client.fetchJobs(0))
      const millis = e429d._tag === "AgentHttpError" && e429d.retryAfter !== undefined ? Duration.toMillis(e429d.retryAfter) : -1
      expect(millis).toBeGreaterThan(50_000)
      expect(millis).toBeLessThanOrEqual(60_000)
      yield* admin.addFaults([{ status: 503, routes: ["events"], count: 1 }])
      expect(yield* Effect.flip(client.postEvents([]))).toMatchObject({ status: 503, code: "Unavailable" })
      yield* admin.addFaults([{ status: "drop", routes: ["jobs"] }])
      expect(yield* Effect.flip(client.fetchJobs(0))).toMatchObject({ _tag: "AgentTransportError", timedOut: false })
      expect(yield* Effect.flip(client.fetchJobs(0))).toMatchObject({ _tag: "AgentTransportError" })
      yield* admin.clearFaults
      expect(yield* client.fetchJobs(0)).toEqual([])
    }))

  it.scopedLive("error bodies carry a requestId; a non-JSON error body still gives a clear error", () =>
    Effect.gen(function* () {
      const { mock, client } = yield* registered()
      const res = yield* Effect.promise(() =>
        fetch(`${mock.url}/api/agent/jobs/none/ack`, { method: "POST", headers: { Accept: AgentMediaType, Authorization: `Bearer ${agentToken}` } })
      )
      const body: unknown = yield* Effect.promise(() => res.json())
      expect(body).toMatchObject({ error: "NotFound", requestId: expect.stringMatching(/^rq-/) })
      expect(yield* Effect.flip(client.ack("none"))).toMatchObject({ status: 404, code: "NotFound" })
    }))

  it.scopedLive("the admin API needs the admin token", () =>
    Effect.gen(function* () {
      const { mock } = yield* registered()
      const res = yield* Effect.promise(() => fetch(`${mock.url}/api/admin/requests`))
      expect(res.status).toBe(401)
    }))

  it.scopedLive("every request has a timeout: a server that never answers gives a timed-out transport error", () =>
    Effect.gen(function* () {
      const silent = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const s = net.createServer(() => {})
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close())
      )
      const address = silent.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const { client } = yield* agentClientFor(
        { baseUrl: `http://127.0.0.1:${port}`, clusterId, token: agentToken },
        { requestTimeout: Duration.millis(200), longPollMargin: Duration.millis(200) }
      )
      expect(yield* Effect.flip(client.ack("x"))).toMatchObject({ _tag: "AgentTransportError", timedOut: true })
      expect(yield* Effect.flip(client.fetchJobs(0))).toMatchObject({ _tag: "AgentTransportError", timedOut: true })
    }))
})
