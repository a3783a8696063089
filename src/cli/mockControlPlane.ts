/**
 * `vworkspace-operator mock-control-plane`: the mock control plane on loopback, for the demo, the
 * tests and control-plane developers (docs/development/mock-control-plane.md).
 */
import { randomBytes } from "node:crypto"
import { Command, Options } from "@effect/cli"
import { Config, Console, Effect, Option } from "effect"
import { makeMockControlPlane } from "../connectivity/mock/server.js"

const options = {
  host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("Address to bind (loopback by default)")),
  port: Options.integer("port").pipe(Options.withDefault(8080)),
  adminToken: Options.text("admin-token").pipe(
    Options.withFallbackConfig(Config.string("MOCK_CONTROL_PLANE_ADMIN_TOKEN")),
    Options.optional,
    Options.withDescription("Bearer token of /api/admin/* (default: a random one, printed once at start)")
  ),
  registrationToken: Options.text("registration-token").pipe(
    Options.withDefault("dev-registration-token"),
    Options.withDescription("A one-time registration token known at start")
  ),
  clusterId: Options.text("cluster-id").pipe(
    Options.withDefault("cluster-dev-1"),
    Options.withDescription("The cluster the registration token (and --bootstrap-token) belongs to")
  ),
  bootstrapToken: Options.text("bootstrap-token").pipe(
    Options.withFallbackConfig(Config.string("MOCK_CONTROL_PLANE_BOOTSTRAP_TOKEN")),
    Options.optional,
    Options.withDescription("Pre-seed a long-lived agent token for --cluster-id (as if registered)")
  ),
  redeliverAfter: Options.integer("redeliver-after-seconds").pipe(
    Options.withDefault(30),
    Options.withDescription("An unacked job is delivered again after this long")
  ),
  resultTimeout: Options.integer("result-timeout-seconds").pipe(
    Options.withDefault(900),
    Options.withDescription("An acked job without a result is delivered again after this long")
  ),
  rotationGrace: Options.integer("rotation-grace-seconds").pipe(
    Options.withDefault(0),
    Options.withDescription("How long a rotated-away token keeps working (0: refused at once)")
  ),
  maxJobsPerPoll: Options.integer("max-jobs-per-poll").pipe(Options.withDefault(100))
}

export const mockControlPlaneCommand = Command.make("mock-control-plane", options, (o) =>
  Effect.scoped(
    Effect.gen(function* () {
      const generated = Option.isNone(o.adminToken)
      const adminToken = Option.getOrElse(o.adminToken, () => `mock-admin-${randomBytes(12).toString("hex")}`)
      const mock = yield* makeMockControlPlane({
        host: o.host,
        port: o.port,
        adminToken,
        registrationTokens: [{ token: o.registrationToken, clusterId: o.clusterId }],
        agentTokens: Option.match(o.bootstrapToken, {
          onNone: () => [],
          onSome: (token) => [{ token, clusterId: o.clusterId }]
        }),
        redeliverAfterMillis: o.redeliverAfter * 1000,
        resultTimeoutMillis: o.resultTimeout * 1000,
        rotationGraceMillis: o.rotationGrace * 1000,
        maxJobsPerPoll: o.maxJobsPerPoll
      })
      yield* Console.log(`mock control plane listening on ${mock.url} (cluster ${o.clusterId})`)
      if (generated) yield* Console.log(`admin token (generated; pass --admin-token to choose one): ${adminToken}`)
      return yield* Effect.never
    })
  )
).pipe(Command.withDescription("Run the mock control plane (the /api/agent/* protocol plus an admin API) on loopback."))
