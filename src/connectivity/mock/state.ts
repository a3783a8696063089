/**
 * The mock control plane's memory: registration and agent tokens, per-cluster job queues with
 * redelivery of unacked jobs, statuses, results (one per job), de-duplicated events, injected
 * faults and a log of agent requests. Synchronous and single-threaded; the server wraps it.
 */
import { createHash, randomBytes } from "node:crypto"
import type { AgentEvent, JobResult, StatusUpdate } from "../../api/agentProtocol.js"
import type { AdminFault, AgentRoute, JobView, RequestLogEntry, StoredEvent } from "./adminProtocol.js"

export type { AgentRoute, JobView, RequestLogEntry, StoredEvent }

export type Fault = AdminFault

export interface MockStateOptions {
  /** An unacked job is delivered again this long after its last delivery. */
  readonly redeliverAfterMillis: number
  /**
   * An acked job without a result is delivered again this long after its last delivery (the
   * agent may have died after the ack; delivery is at least once until a result is recorded).
   */
  readonly resultTimeoutMillis: number
  /** Jobs per poll answer at most. */
  readonly maxJobsPerPoll: number
  /** How long a rotated-away token keeps working (0 = refused at once). */
  readonly rotationGraceMillis: number
  /** Lifetime of a registration token (the control plane's default is 24 h). */
  readonly registrationTokenTtlMillis: number
  /** Request-log entries kept (oldest dropped first). */
  readonly requestLogLimit: number
}

export const defaultMockStateOptions: MockStateOptions = {
  redeliverAfterMillis: 30_000,
  resultTimeoutMillis: 15 * 60_000,
  maxJobsPerPoll: 100,
  rotationGraceMillis: 0,
  registrationTokenTtlMillis: 24 * 3600_000,
  requestLogLimit: 20_000
}

export const tokenFingerprint = (token: string): string =>
  token === "" ? "" : createHash("sha256").update(token).digest("hex").slice(0, 16)

/** A refusal of a request, rendered as the documented error body. */
export interface Refusal {
  readonly status: number
  readonly code: string
  readonly message: string
}

const refuse = (status: number, code: string, message: string): Refusal => ({ status, code, message })

interface RegistrationToken {
  readonly clusterId: string | undefined
  readonly expiresAt: number
  used: boolean
}

interface AgentToken {
  readonly clusterId: string
  /** Set when the token was rotated away: it works until then. */
  validUntil: number | undefined
}

interface JobRecord {
  readonly id: string
  readonly clusterId: string
  readonly job: Readonly<Record<string, unknown>>
  readonly enqueuedAt: number
  deliveries: number
  lastDeliveredAt: number
  acked: boolean
  readonly statuses: Array<StatusUpdate>
  result: JobResult | undefined
  resultAt: number | undefined
  duplicateResults: number
}

const iso = (ms: number) => new Date(ms).toISOString()

export class MockState {
  private readonly registrationTokens = new Map<string, RegistrationToken>()
  private readonly agentTokens = new Map<string, AgentToken>()
  /** Jobs in enqueue order, per cluster; closed jobs stay (for the admin API) but are skipped. */
  private readonly queues = new Map<string, Array<JobRecord>>()
  private readonly jobs = new Map<string, JobRecord>()
  private readonly events: Array<StoredEvent> = []
  private readonly eventKeys = new Map<string, number>()
  private faults: Array<Fault & { remaining: number | undefined }> = []
  private readonly requestLog: Array<RequestLogEntry> = []
  private readonly waiters = new Map<string, Set<() => void>>()
  private rotations = 0

  constructor(readonly options: MockStateOptions = defaultMockStateOptions) {}

  // --- tokens -------------------------------------------------------------------------------

  addRegistrationToken(token: string, clusterId: string | undefined, now: number, ttlMillis?: number): void {
    this.registrationTokens.set(token, {
      clusterId,
      expiresAt: now + (ttlMillis ?? this.options.registrationTokenTtlMillis),
      used: false
    })
  }

  setAgentToken(clusterId: string, token: string): void {
    this.agentTokens.set(token, { clusterId, validUntil: undefined })
  }

  /** `POST /register`: single use, expiring; the long-lived token is issued once. */
  register(
    registrationToken: string,
    requestedClusterId: string | undefined,
    now: number
  ): { clusterId: string; token: string } | Refusal {
    const record = this.registrationTokens.get(registrationToken)
    if (record === undefined) return refuse(401, "InvalidRegistrationToken", "unknown registration token")
    if (record.used) return refuse(401, "RegistrationTokenUsed", "registration token already used")
    if (now > record.expiresAt) return refuse(401, "RegistrationTokenExpired", "registration token expired")
    if (record.clusterId !== undefined && requestedClusterId !== undefined && requestedClusterId !== "" && requestedClusterId !== record.clusterId)
      return refuse(403, "ClusterMismatch", "the registration token belongs to another cluster")
    record.used = true
    const clusterId =
      record.clusterId ?? (requestedClusterId !== undefined && requestedClusterId !== "" ? requestedClusterId : `cluster-${randomBytes(4).toString("hex")}`)
    const token = `vwksp-agent-${randomBytes(16).toString("hex")}`
    this.setAgentToken(clusterId, token)
    return { clusterId, token }
  }

  /** The cluster a bearer token stands for, or the reason it is refused. */
  authenticate(token: string | undefined, now: number): string | Refusal {
    if (token === undefined || token === "") return refuse(401, "Unauthorized", "missing bearer token")
    const record = this.agentTokens.get(token)
    if (record === undefined) return refuse(401, "Unauthorized", "unknown or revoked token")
    if (record.validUntil !== undefined && now >= record.validUntil) {
      this.agentTokens.delete(token)
      return refuse(401, "Unauthorized", "token was rotated and its grace period is over")
    }
    return record.clusterId
  }

  /** `POST /credentials/rotate`: a new token; the old one works for the grace period only. */
  rotate(oldToken: string, clusterId: string, now: number): string {
    this.rotations += 1
    const token = `vwksp-agent-${randomBytes(16).toString("hex")}`
    this.setAgentToken(clusterId, token)
    const old = this.agentTokens.get(oldToken)
    if (this.options.rotationGraceMillis <= 0) this.agentTokens.delete(oldToken)
    else if (old !== undefined) old.validUntil = now + this.options.rotationGraceMillis
    return token
  }

  get rotationCount(): number {
    return this.rotations
  }

  // --- jobs ---------------------------------------------------------------------------------

  enqueue(clusterId: string, job: Readonly<Record<string, unknown>>, now: number): Refusal | undefined {
    const id = job["id"]
    if (typeof id !== "string" || id === "") return refuse(400, "MissingJobID", "job.id must be a non-empty string")
    if (this.jobs.has(id)) return refuse(409, "DuplicateJobID", `job ${id} already exists`)
    const record: JobRecord = {
      id,
      clusterId,
      job,
      enqueuedAt: now,
      deliveries: 0,
      lastDeliveredAt: 0,
      acked: false,
      statuses: [],
      result: undefined,
      resultAt: undefined,
      duplicateResults: 0
    }
    this.jobs.set(id, record)
    const queue = this.queues.get(clusterId) ?? []
    queue.push(record)
    this.queues.set(clusterId, queue)
    this.wake(clusterId)
    return undefined
  }

  /**
   * Jobs to hand out now: never delivered, delivered but not acked for `redeliverAfter`, or acked
   * without a result for `resultTimeout`. Marks them delivered. Also returns when the next one
   * becomes due again (for the long poll).
   */
  takeDeliverable(clusterId: string, now: number): { jobs: ReadonlyArray<Readonly<Record<string, unknown>>>; nextDueAt: number | undefined } {
    const queue = this.queues.get(clusterId) ?? []
    const open = queue.filter((j) => j.result === undefined)
    if (open.length !== queue.length) this.queues.set(clusterId, open)
    const out: Array<Readonly<Record<string, unknown>>> = []
    let nextDueAt: number | undefined
    for (const j of open) {
      const again = j.acked ? this.options.resultTimeoutMillis : this.options.redeliverAfterMillis
      const dueAt = j.deliveries === 0 ? now : j.lastDeliveredAt + again
      if (dueAt <= now && out.length < this.options.maxJobsPerPoll) {
        j.deliveries += 1
        j.lastDeliveredAt = now
        out.push(j.job)
        nextDueAt = nextDueAt === undefined ? now + again : Math.min(nextDueAt, now + again)
      } else {
        nextDueAt = nextDueAt === undefined ? dueAt : Math.min(nextDueAt, dueAt)
      }
    }
    return { jobs: out, nextDueAt }
  }

  /** Calls `wake` once, the next time a job is enqueued for the cluster. Returns an unsubscribe. */
  onEnqueue(clusterId: string, wake: () => void): () => void {
    const set = this.waiters.get(clusterId) ?? new Set()
    set.add(wake)
    this.waiters.set(clusterId, set)
    return () => set.delete(wake)
  }

  private wake(clusterId: string): void {
    const set = this.waiters.get(clusterId)
    if (set === undefined) return
    this.waiters.delete(clusterId)
    for (const w of set) w()
  }

  private ownJob(clusterId: string, id: string): JobRecord | Refusal {
    const job = this.jobs.get(id)
    // Another cluster's job is as unknown as a missing one: ids do not leak across clusters.
    return job === undefined || job.clusterId !== clusterId ? refuse(404, "NotFound", `job ${id} not found`) : job
  }

  ack(clusterId: string, id: string): Refusal | undefined {
    const job = this.ownJob(clusterId, id)
    if ("status" in job) return job
    if (job.result !== undefined) return refuse(409, "JobClosed", `job ${id} already has a result`)
    job.acked = true
    return undefined
  }

  addStatus(clusterId: string, id: string, update: StatusUpdate): Refusal | undefined {
    const job = this.ownJob(clusterId, id)
    if ("status" in job) return job
    if (job.result !== undefined) return refuse(409, "JobClosed", `job ${id} already has a result`)
    job.statuses.push(update)
    return undefined
  }

  setResult(clusterId: string, id: string, result: JobResult, now: number): Refusal | undefined {
    const job = this.ownJob(clusterId, id)
    if ("status" in job) return job
    if (job.result !== undefined) {
      job.duplicateResults += 1
      return refuse(409, "ResultAlreadyRecorded", `job ${id} already has a result`)
    }
    job.result = result
    job.resultAt = now
    return undefined
  }

  job(id: string): JobView | undefined {
    const j = this.jobs.get(id)
    return j === undefined ? undefined : this.view(j)
  }

  jobsOf(clusterId: string): ReadonlyArray<JobView> {
    return [...this.jobs.values()].filter((j) => j.clusterId === clusterId).map((j) => this.view(j))
  }

  private view(j: JobRecord): JobView {
    return {
      id: j.id,
      clusterId: j.clusterId,
      job: j.job,
      enqueuedAt: iso(j.enqueuedAt),
      deliveries: j.deliveries,
      acked: j.acked,
      statuses: [...j.statuses],
      ...(j.result === undefined ? {} : { result: j.result }),
      ...(j.resultAt === undefined ? {} : { resultAt: iso(j.resultAt) }),
      duplicateResults: j.duplicateResults
    }
  }

  // --- events -------------------------------------------------------------------------------

  /** Stores events; one with an `eventKey` already seen for the cluster is counted, not stored. */
  addEvents(clusterId: string, events: ReadonlyArray<AgentEvent>, now: number): void {
    for (const event of events) {
      if (event.eventKey !== undefined && event.eventKey !== "") {
        const key = `${clusterId}\u0000${event.eventKey}`
        const seen = this.eventKeys.get(key)
        this.eventKeys.set(key, (seen ?? 0) + 1)
        if (seen !== undefined) continue
      }
      this.events.push({ clusterId, receivedAt: iso(now), event })
    }
  }

  eventsOf(
    clusterId: string,
    filter: { readonly kind?: string; readonly eventKind?: string; readonly namespace?: string; readonly name?: string }
  ): ReadonlyArray<StoredEvent> {
    return this.events.filter(
      (e) =>
        e.clusterId === clusterId &&
        (filter.kind === undefined || e.event.resourceRef.kind === filter.kind) &&
        (filter.eventKind === undefined || e.event.kind === filter.eventKind) &&
        (filter.namespace === undefined || e.event.resourceRef.namespace === filter.namespace) &&
        (filter.name === undefined || e.event.resourceRef.name === filter.name)
    )
  }

  /** How often each `eventKey` of the cluster was posted again after it was accepted. */
  duplicateEventPosts(clusterId: string): Record<string, number> {
    const out: Record<string, number> = {}
    const prefix = `${clusterId}\u0000`
    for (const [key, n] of this.eventKeys) if (key.startsWith(prefix) && n > 1) out[key.slice(prefix.length)] = n - 1
    return out
  }

  // --- faults and the request log -----------------------------------------------------------

  addFaults(faults: ReadonlyArray<Fault>): void {
    for (const f of faults) this.faults.push({ ...f, remaining: f.count })
  }

  clearFaults(): void {
    this.faults = []
  }

  /** The fault that answers this request, if any (and spends one of its uses). */
  takeFault(route: AgentRoute): Fault | undefined {
    const fault = this.faults.find((f) => f.routes === undefined || f.routes.includes(route))
    if (fault === undefined) return undefined
    if (fault.remaining !== undefined) {
      fault.remaining -= 1
      if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault)
    }
    return fault
  }

  logRequest(entry: RequestLogEntry): void {
    this.requestLog.push(entry)
    if (this.requestLog.length > this.options.requestLogLimit) this.requestLog.splice(0, this.requestLog.length - this.options.requestLogLimit)
  }

  requests(): ReadonlyArray<RequestLogEntry> {
    return [...this.requestLog]
  }
}
