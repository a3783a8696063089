/**
 * A loopback TCP proxy for fault tests. It forwards bytes without looking at them (TLS passes
 * through, so the API server's certificate still names 127.0.0.1), and can cut every connection,
 * freeze connections without closing them (a half-open connection after a network failure), or
 * refuse new ones (the server unreachable).
 */
import * as net from "node:net"
import { Data, Effect, type Scope } from "effect"

export class TcpProxyError extends Data.TaggedError("TcpProxyError")<{ readonly message: string }> {}

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number
  /** Connections accepted so far (refused ones included). */
  readonly accepted: Effect.Effect<number>
  /** Connections open right now (stalled ones included). */
  readonly open: Effect.Effect<number>
  /** Closes every open connection at once, on both sides; returns how many. New ones are served. */
  readonly killAll: Effect.Effect<number>
  /**
   * Freezes every open connection for good: from now on nothing is forwarded in either direction
   * and nothing is closed towards the client, so only the client's own timers can notice. New
   * connections are served as usual. Returns how many were frozen.
   */
  readonly stall: Effect.Effect<number>
  /** Stalled connections that the client has since closed itself. */
  readonly stalledClosedByClient: Effect.Effect<number>
  /** While refusing, a new connection is closed as soon as it is accepted. */
  readonly setRefusing: (refusing: boolean) => Effect.Effect<void>
}

/** One forwarded connection: a client socket and its upstream socket. */
interface Link {
  stalled: boolean
}

const isLoopback = (host: string): boolean => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "localhost"

/** A proxy on a free 127.0.0.1 port to `target` (which must be on loopback) for the Scope's life. */
export const makeTcpProxy = (target: {
  readonly host: string
  readonly port: number
}): Effect.Effect<TcpProxy, TcpProxyError, Scope.Scope> =>
  Effect.gen(function* () {
    if (!isLoopback(target.host)) {
      return yield* new TcpProxyError({ message: `tests send traffic only to loopback, not to ${target.host}` })
    }
    const links = new Set<Link>()
    // Every socket still open, linked or not, so that closing the proxy ends them all.
    const sockets = new Set<net.Socket>()
    const track = (socket: net.Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    }
    let accepted = 0
    let refusing = false
    let stalledClosedByClient = 0

    const onConnection = (client: net.Socket) => {
      accepted++
      track(client)
      if (refusing) {
        client.on("error", () => {})
        client.destroy()
        return
      }
      const upstream = net.connect({ host: target.host, port: target.port })
      track(upstream)
      const link: Link = { stalled: false }
      links.add(link)
      client.on("data", (chunk: Buffer) => {
        if (!link.stalled) upstream.write(chunk)
      })
      upstream.on("data", (chunk: Buffer) => {
        if (!link.stalled) client.write(chunk)
      })
      // The server closing is passed on after the bytes already written (a final answer must
      // arrive whole); a stalled connection tells the client nothing, not even that.
      upstream.on("close", () => {
        if (link.stalled) return
        links.delete(link)
        client.end()
      })
      client.on("close", () => {
        if (link.stalled && links.has(link)) stalledClosedByClient++
        links.delete(link)
        upstream.destroy()
      })
      // Errors end in 'close', handled above.
      client.on("error", () => {})
      upstream.on("error", () => {})
    }

    const server = net.createServer({ allowHalfOpen: false }, onConnection)
    const port = yield* Effect.acquireRelease(
      Effect.async<number, TcpProxyError>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new TcpProxyError({ message: `proxy cannot listen: ${e.message}` }))))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          links.clear()
          for (const socket of [...sockets]) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )

    return {
      port,
      accepted: Effect.sync(() => accepted),
      open: Effect.sync(() => links.size),
      killAll: Effect.sync(() => {
        const cut = links.size
        links.clear()
        for (const socket of [...sockets]) socket.destroy()
        return cut
      }),
      stall: Effect.sync(() => {
        let n = 0
        for (const link of links) {
          if (!link.stalled) n++
          link.stalled = true
        }
        return n
      }),
      stalledClosedByClient: Effect.sync(() => stalledClosedByClient),
      setRefusing: (value) =>
        Effect.sync(() => {
          refusing = value
        })
    }
  })
