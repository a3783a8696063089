import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { findDrift, writeGenerated } from "../../src/cli/crds.js"

const repoRoot = join(import.meta.dirname, "../..")
const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) =>
  Effect.runPromise(Effect.provide(effect, NodeContext.layer))

describe("generated artifacts", () => {
  it("the committed schema/ and chart CRDs match src/api (run `npm run crds` if this fails)", async () => {
    const drifts = await run(findDrift(repoRoot))
    const report = drifts.map((d) => `${d.path}: ${d.problem}`).join("\n")
    expect(drifts, `generated files are out of date; run \`npm run crds\` and commit:\n${report}`).toEqual([])
  })

  describe("drift detection", () => {
    const scratch = mkdtempSync(join(tmpdir(), "vworkspace-crd-drift-"))
    afterAll(() => rmSync(scratch, { recursive: true, force: true }))

    it("reports changed, missing and stale files", async () => {
      await run(writeGenerated(scratch))
      expect(await run(findDrift(scratch))).toEqual([])

      writeFileSync(join(scratch, "schema/crds/ops.vworkspace.io_clusters.yaml"), "# edited by hand\n")
      rmSync(join(scratch, "charts/vworkspace-operator/crds/ops.vworkspace.io_operations.yaml"))
      writeFileSync(join(scratch, "schema/agent-protocol/obsolete.json"), "{}\n")

      expect(await run(findDrift(scratch))).toEqual(
        expect.arrayContaining([
          { path: "schema/crds/ops.vworkspace.io_clusters.yaml", problem: "different" },
          { path: "charts/vworkspace-operator/crds/ops.vworkspace.io_operations.yaml", problem: "missing" },
          { path: "schema/agent-protocol/obsolete.json", problem: "stale" }
        ])
      )

      await run(writeGenerated(scratch))
      expect(await run(findDrift(scratch))).toEqual([])
    })
  })
})
