import * as path from "node:path"
import { Data } from "effect"

/** A helper program (go, openssl, the build script) could not be run or exited non-zero. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly command: string
  readonly reason: string
  /** The end of the program's output or log. */
  readonly output: string
}> {
  override get message(): string {
    return `${this.command}: ${this.reason}${this.output === "" ? "" : `\n${this.output}`}`
  }
}

/** etcd or kube-apiserver did not come up; `logTail` is the end of its log file. */
export class StartFailed extends Data.TaggedError("StartFailed")<{
  readonly component: string
  readonly reason: string
  readonly logFile: string
  readonly logTail: string
}> {
  override get message(): string {
    // The folder may be gone by now (a failed start is cleaned up), so the tail travels along.
    return `${this.reason}\n--- last lines of ${path.basename(this.logFile)} ---\n${this.logTail}`
  }
}

/** A request to the API server failed at the transport level or timed out. */
export class ApiRequestFailed extends Data.TaggedError("ApiRequestFailed")<{
  readonly method: string
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.method} ${this.path}: ${this.reason}`
  }
}

/** The API server answered with a status the caller did not accept. */
export class ApiStatusError extends Data.TaggedError("ApiStatusError")<{
  readonly method: string
  readonly path: string
  readonly status: number
  readonly body: string
}> {
  override get message(): string {
    return `${this.method} ${this.path}: HTTP ${this.status}: ${this.body.slice(0, 1000)}`
  }
}

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
