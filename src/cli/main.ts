#!/usr/bin/env node
/** The `vworkspace-operator` binary: one root command with subcommands. */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { crdsCommand } from "./crds.js"
import { devClusterCommand } from "./devCluster.js"
import { mockControlPlaneCommand } from "./mockControlPlane.js"
import { registerCommand } from "./register.js"
import { runCommand } from "./run.js"

const root = Command.make("vworkspace-operator").pipe(
  Command.withDescription("Cluster-side operator of vWorkspace."),
  Command.withSubcommands([runCommand, registerCommand, crdsCommand, devClusterCommand, mockControlPlaneCommand])
)

const cli = Command.run(root, { name: "vworkspace-operator", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), (program) =>
  // The operator logs JSON through its own logger; the pretty console logger would double every line.
  NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
