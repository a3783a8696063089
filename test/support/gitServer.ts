/**
 * A Git repository served over smart HTTP on loopback: `git http-backend` (CGI) behind a small
 * node:http server, the way a Git host serves clones. Tests commit to a work tree and push; Flux's
 * source-controller clones from `url`.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

export interface GitServer {
  /** Clone URL of the repository. */
  readonly url: string
  /** Writes files (path → content) into the work tree, commits and pushes; returns the commit SHA. */
  readonly commit: (files: Readonly<Record<string, string>>, message: string) => string
  readonly stop: () => Promise<void>
}

const git = (cwd: string, ...args: ReadonlyArray<string>): string =>
  execFileSync("git", [...args], {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "e2e",
      GIT_AUTHOR_EMAIL: "e2e@example.test",
      GIT_COMMITTER_NAME: "e2e",
      GIT_COMMITTER_EMAIL: "e2e@example.test"
    }
  }).trim()

/** Runs one CGI request through git http-backend and relays its answer. */
const handle = (root: string) => (req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const cgi = spawn(join(execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim(), "git-http-backend"), [], {
    env: {
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
      GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      REMOTE_ADDR: "127.0.0.1"
    }
  })
  req.pipe(cgi.stdin)
  let head = Buffer.alloc(0)
  let headersSent = false
  cgi.stdout.on("data", (chunk: Buffer) => {
    if (headersSent) return void res.write(chunk)
    head = Buffer.concat([head, chunk])
    const end = head.indexOf("\r\n\r\n")
    if (end < 0) return
    let status = 200
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const colon = line.indexOf(":")
      const name = line.slice(0, colon).trim()
      const value = line.slice(colon + 1).trim()
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10)
      else res.setHeader(name, value)
    }
    res.writeHead(status)
    headersSent = true
    res.write(head.subarray(end + 4))
  })
  cgi.on("close", () => {
    if (!headersSent) res.writeHead(500)
    res.end()
  })
}

export const startGitServer = async (name = "fleet"): Promise<GitServer> => {
  const dir = mkdtempSync(join(tmpdir(), "vws-git-"))
  const root = join(dir, "repos")
  const bare = join(root, `${name}.git`)
  mkdirSync(bare, { recursive: true })
  git(bare, "init", "--bare", "--initial-branch=main")
  git(bare, "config", "http.receivepack", "true")
  const work = join(dir, "work")
  mkdirSync(work)
  git(work, "init", "--initial-branch=main")
  git(work, "remote", "add", "origin", bare)
  const server = createServer(handle(root))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/${name}.git`,
    commit: (files, message) => {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, path)), { recursive: true })
        writeFileSync(join(work, path), content)
      }
      git(work, "add", "-A")
      git(work, "commit", "-q", "-m", message)
      git(work, "push", "-q", "origin", "main")
      return git(work, "rev-parse", "HEAD")
    },
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
