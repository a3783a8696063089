import { Duration, Effect, Schema } from "effect"
import { ApiRequestFailed, type ApiStatusError, type FileError } from "./errors.js"
import { type ApiTarget, requestJson, targetFromKubeconfig } from "./http.js"

const VersionInfo = Schema.Struct({ gitVersion: Schema.String, major: Schema.String, minor: Schema.String })
export type VersionInfo = typeof VersionInfo.Type

/** GET /version: which Kubernetes the server runs. */
export const serverVersion = (target: ApiTarget): Effect.Effect<VersionInfo, ApiRequestFailed | ApiStatusError> =>
  requestJson(target, { method: "GET", path: "/version", timeout: Duration.seconds(10) }).pipe(
    Effect.flatMap(Schema.decodeUnknown(VersionInfo)),
    Effect.mapError((e) =>
      e._tag === "ParseError" ? new ApiRequestFailed({ method: "GET", path: "/version", reason: `unexpected answer: ${e.message}` }) : e
    )
  )

/** An existing cluster's kubeconfig (VWORKSPACE_TEST_KUBECONFIG): check it answers, return its target. */
export const connectExisting = (
  kubeconfigPath: string
): Effect.Effect<ApiTarget, ApiRequestFailed | ApiStatusError | FileError> =>
  Effect.tap(targetFromKubeconfig(kubeconfigPath), serverVersion)
