/**
 * Every subcommand but `run`, through @effect/cli. Loaded only when one of them is invoked (see
 * main.ts): the operator process itself never loads the CLI framework.
 */
import { Command } from "@effect/cli"
// Subpath imports: the package's index loads its HTTP server and more (about 30 MiB).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { crdsCommand } from "./crds.js"
import { devClusterCommand } from "./devCluster.js"
import { mockControlPlaneCommand } from "./mockControlPlane.js"
import { operatorVersion } from "../observability/version.js"
import { registerCommand } from "./register.js"
import { runDescription } from "./run.js"

// Listed so that the root help names it; main.ts hands `run` to run.ts before this module loads.
const runListing = Command.make("run").pipe(Command.withDescription(`${runDescription}; see \`run --help\``))

const root = Command.make("vworkspace-operator").pipe(
  Command.withDescription("Cluster-side operator of vWorkspace."),
  Command.withSubcommands([runListing, registerCommand, crdsCommand, devClusterCommand, mockControlPlaneCommand])
)

const cli = Command.run(root, { name: "vworkspace-operator", version: operatorVersion })

export const commandsMain = (argv: ReadonlyArray<string>): void =>
  cli(argv).pipe(Effect.provide(NodeContext.layer), (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true }))
