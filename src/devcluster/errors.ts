import { Data } from "effect"

/** A helper program (go, openssl, the build script) could not be run or exited non-zero. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly command: string
  readonly message: string
  readonly output: string
}> {}

/** etcd or kube-apiserver did not come up; `logTail` is the end of its log file. */
export class StartFailed extends Data.TaggedError("StartFailed")<{
  readonly component: string
  readonly message: string
  readonly logFile: string
  readonly logTail: string
}> {}

/** A request to the API server failed at the transport level or timed out. */
export class ApiRequestFailed extends Data.TaggedError("ApiRequestFailed")<{
  readonly method: string
  readonly path: string
  readonly message: string
}> {}

/** The API server answered with a status the caller did not accept. */
export class ApiStatusError extends Data.TaggedError("ApiStatusError")<{
  readonly method: string
  readonly path: string
  readonly status: number
  readonly body: string
}> {}

/** A CRD file could not be read or parsed, or a CRD did not become Established in time. */
export class CrdInstallFailed extends Data.TaggedError("CrdInstallFailed")<{
  readonly message: string
}> {}

/** A kubeconfig, PKI file or state file could not be read, parsed or written. */
export class FileError extends Data.TaggedError("FileError")<{
  readonly path: string
  readonly message: string
}> {}

/** `dev-cluster down`/`env` without a running persistent cluster, or `up` while one runs. */
export class DevClusterStateError extends Data.TaggedError("DevClusterStateError")<{
  readonly message: string
}> {}

export type DevClusterError =
  | CommandFailed
  | StartFailed
  | ApiRequestFailed
  | ApiStatusError
  | CrdInstallFailed
  | FileError
  | DevClusterStateError

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e))
