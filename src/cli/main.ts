#!/usr/bin/env node
/**
 * The `vworkspace-operator` binary. `run` (the operator process) parses its own flags and loads
 * nothing else; every other subcommand goes through @effect/cli, loaded only then.
 */
const [subcommand, ...rest] = process.argv.slice(2)

if (subcommand === "run") {
  void import("./run.js").then((m) => m.runMain(rest))
} else {
  void import("./commands.js").then((m) => m.commandsMain(process.argv))
}
