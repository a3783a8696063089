/**
 * TLS as tests meet it: the certificate a loopback server presents, and a Secret volume written
 * the way the kubelet writes it (for servers that read a mounted cert-manager Secret).
 */
import { Effect } from "effect"
import type { X509Certificate } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"

/** The certificate the server on 127.0.0.1:`port` presents right now (none: no handshake). */
export const servedCertificate = (port: number) =>
  Effect.async<X509Certificate | undefined>((resume) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate()
      socket.destroy()
      resume(Effect.succeed(raw))
    })
    socket.once("error", () => resume(Effect.succeed(undefined)))
  })

/**
 * A Secret volume in a temporary directory (removed with the scope), as the kubelet writes it:
 * the files live in a timestamped directory, `..data` points at it, and each key is a symlink
 * through `..data`. `write` adds a new directory and renames a fresh `..data` symlink over the
 * old one, so a reader sees all old or all new files.
 */
export const secretVolume = Effect.gen(function* () {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "secret-volume-"))),
    (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
  )
  let generation = 0
  const write = (files: Readonly<Record<string, string>>) =>
    Effect.promise(async () => {
      const version = `..${Date.now()}_${generation++}`
      await fs.mkdir(path.join(dir, version))
      for (const [key, value] of Object.entries(files)) await fs.writeFile(path.join(dir, version, key), value)
      await fs.symlink(version, path.join(dir, "..data_tmp"))
      await fs.rename(path.join(dir, "..data_tmp"), path.join(dir, "..data"))
      for (const key of Object.keys(files)) {
        await fs.symlink(path.join("..data", key), path.join(dir, key)).catch(() => undefined)
      }
    })
  return { dir, write }
})
