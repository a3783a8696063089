/** Playing helm-controller: tests write HelmRelease status the way Flux does. */
import { Effect } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"

/** Writes `status.conditions` (and observedGeneration = the HelmRelease's generation) under helm-controller's field manager. */
export const writeFluxStatus = (hr: KubeObject, conditions: ReadonlyArray<Record<string, string>>) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      Resources.HelmRelease,
      {
        apiVersion: hr.apiVersion,
        kind: hr.kind,
        metadata: { name: hr.metadata.name, namespace: hr.metadata.namespace },
        status: {
          observedGeneration: hr.metadata.generation,
          conditions: conditions.map((c) => ({ lastTransitionTime: "2026-11-26T10:00:00Z", message: "", ...c }))
        }
      },
      { fieldManager: "helm-controller", force: true }
    )
  )
