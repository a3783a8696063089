import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Option } from "effect"
import { defaultOperatorConfig } from "../../src/config.js"
import { desiredGitOpsObjects, gitOpsReport } from "../../src/connectivity/modes/gitops.js"
import { reportsEvents, selectIntentSource, selectStatusSink } from "../../src/connectivity/modes/index.js"
import { parseConnectivityMode } from "../../src/connectivity/modes/mode.js"
import { conditionsOnlySink } from "../../src/connectivity/modes/sinks.js"
import { connectionConditions } from "../../src/reconcilers/cluster.js"
import { memoryConfigMaps } from "../support/memoryConfigMaps.js"

const outbox = { publish: () => Effect.void }
const settings = { url: "https://git.example.test/fleet.git", branch: "main", interval: Duration.minutes(1), secretRef: Option.some("git-read"), namespace: "flux-system" }
const withMode = (mode: "pull" | "push" | "gitops", extra: Partial<typeof defaultOperatorConfig.connectivity> = {}) => ({
  ...defaultOperatorConfig,
  clusterId: "eu-1",
  connectivity: { ...defaultOperatorConfig.connectivity, mode, ...extra }
})

describe("connectivity mode selection", () => {
  it("parses the three modes and names them when refusing another", () => {
    expect(parseConnectivityMode(" Push ")).toEqual(Either.right("push"))
    const bad = parseConnectivityMode("carrier-pigeon")
    expect(Either.isLeft(bad) && bad.left.message).toBe('unknown connectivity mode "carrier-pigeon": use one of pull, push, gitops')
  })

  it("Pull always reports to the events endpoint; Push and GitOps only when asked", () => {
    expect(reportsEvents(withMode("pull"))).toBe(true)
    expect(selectStatusSink(withMode("push"), outbox)).toBe(conditionsOnlySink)
    expect(selectStatusSink(withMode("push", { reportEvents: true }), outbox)).toBe(outbox)
    expect(selectStatusSink(withMode("pull"), outbox)).toBe(outbox)
  })

  it.effect("GitOps without settings or a cluster id is a start-up error that says what is missing", () =>
    Effect.gen(function* () {
      const noSettings = yield* Effect.flip(selectIntentSource(withMode("gitops"), { sink: outbox, pullAgent: Effect.void }))
      expect(noSettings.message).toContain("--gitops-url")
      const noId = yield* Effect.flip(
        selectIntentSource({ ...withMode("gitops", { gitops: Option.some(settings) }), clusterId: undefined }, { sink: outbox, pullAgent: Effect.void })
      )
      expect(noId.message).toContain("--cluster-id")
    }).pipe(Effect.provide(memoryConfigMaps().layer))
  )

  it("GitOps keeps a GitRepository and a Kustomization for ./clusters/<id>", () => {
    const { gitRepository, kustomization } = desiredGitOpsObjects(settings, "eu-1")
    expect(gitRepository["spec"]).toEqual({ url: settings.url, interval: "1m0s", ref: { branch: "main" }, secretRef: { name: "git-read" } })
    expect(kustomization["spec"]).toMatchObject({ path: "./clusters/eu-1", prune: true, sourceRef: { kind: "GitRepository" } })
    const unknown = gitOpsReport(settings, "eu-1", Option.none())
    expect(unknown.healthy).toBe(false)
    expect(unknown.fields["gitops"]).toMatchObject({ ready: "Unknown", path: "./clusters/eu-1" })
  })
})

describe("Cluster connection conditions", () => {
  const base = {
    credentials: true,
    now: 100_000,
    startedAt: 0,
    disconnectWindow: Duration.seconds(60),
    authFailed: false,
    storedPhase: undefined
  }
  const snapshot = (ok?: number, fail?: number) => ({
    lastSuccessAt: ok === undefined ? Option.none() : Option.some(new Date(ok)),
    lastFailure: fail === undefined ? Option.none() : Option.some({ at: new Date(fail), message: "boom" }),
    halted: Option.none()
  })
  const reasons = (r: ReturnType<typeof connectionConditions>) => r.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)

  it("no credentials: Pending/CredentialMissing", () => {
    expect(reasons(connectionConditions({ ...base, credentials: false, snapshot: snapshot() }))).toEqual([
      "Connected=False/CredentialMissing",
      "Authenticated=False/CredentialMissing"
    ])
  })

  it("a failure inside the window is not yet Disconnected; after it, it is", () => {
    const inside = connectionConditions({ ...base, snapshot: snapshot(90_000, 95_000) })
    expect(inside.phase).toBe("Connected")
    expect(reasons(inside)).toEqual(["Connected=False/ControlPlaneUnreachable"])
    const after = connectionConditions({ ...base, snapshot: snapshot(30_000, 95_000) })
    expect(after.phase).toBe("Disconnected")
    expect(reasons(after)).toContain("Disconnected=True/NoRecentRoundTrip")
  })

  it("a success after the failure is Connected, and an auth failure is named", () => {
    expect(reasons(connectionConditions({ ...base, snapshot: snapshot(96_000, 95_000) }))).toEqual([
      "Connected=True/RoundTripOK",
      "Disconnected=False/Connected",
      "Authenticated=True/CredentialAccepted"
    ])
    expect(reasons(connectionConditions({ ...base, authFailed: true, snapshot: snapshot(90_000, 95_000) }))).toContain(
      "Authenticated=False/ControlPlaneAuthenticationFailed"
    )
  })
})
