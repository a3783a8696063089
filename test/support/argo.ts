/**
 * Playing the Argo workflow controller: it updates a Workflow (no status subresource) from
 * Pending to Running and then Succeeded, Failed or Error, with its nodes and progress.
 */
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { patchObjectStatus } from "./controllerStatus.js"

const write = (w: KubeObject, status: Record<string, unknown>) => patchObjectStatus(Resources.Workflow, w, status, "workflow-controller")
const name = (w: KubeObject) => w.metadata.name ?? ""
const root = (w: KubeObject, phase: string) => ({ id: name(w), name: name(w), displayName: name(w), type: "Steps", phase })
const step = (w: KubeObject, phase: string, message?: string) => ({
  id: `${name(w)}-1234567890`,
  name: `${name(w)}[0].migrate`,
  displayName: "migrate",
  type: "Pod",
  phase,
  ...(message ? { message } : {})
})

export const workflowController = {
  running: (w: KubeObject) =>
    write(w, {
      phase: "Running",
      startedAt: "2026-12-02T01:00:00Z",
      progress: "0/1",
      nodes: { [name(w)]: root(w, "Running"), [`${name(w)}-1234567890`]: step(w, "Running") }
    }),
  succeeded: (w: KubeObject) =>
    write(w, {
      phase: "Succeeded",
      finishedAt: "2026-12-02T01:02:00Z",
      progress: "1/1",
      nodes: { [name(w)]: root(w, "Succeeded"), [`${name(w)}-1234567890`]: step(w, "Succeeded") }
    }),
  failed: (w: KubeObject, message: string) =>
    write(w, {
      phase: "Failed",
      finishedAt: "2026-12-02T01:02:00Z",
      progress: "0/1",
      message: `child '${name(w)}-1234567890' failed`,
      nodes: { [name(w)]: root(w, "Failed"), [`${name(w)}-1234567890`]: step(w, "Failed", message) }
    }),
  error: (w: KubeObject, message: string) => write(w, { phase: "Error", finishedAt: "2026-12-02T01:00:01Z", message })
}
