/**
 * Summarises a V8 `.cpuprofile` (from `--node-options "--cpu-prof --cpu-prof-dir=<dir>"`): where
 * the busy samples go by category (JSON and Schema decoding, the Effect runtime and its streams,
 * node's HTTP stack, GC, our modules), and the top functions by self time.
 *
 *   npx tsx bench/profileSummary.ts <file.cpuprofile> [--top 30]
 *
 * Sample times are wall-clock: on a loaded machine a busy sample includes time the thread waited
 * for a core, so compare shares, not milliseconds, between runs.
 */
import * as fs from "node:fs"
import { Either, Schema } from "effect"

const CallFrame = Schema.Struct({ functionName: Schema.String, url: Schema.String, lineNumber: Schema.Number })
const ProfileNode = Schema.Struct({
  id: Schema.Number,
  callFrame: CallFrame,
  children: Schema.optional(Schema.Array(Schema.Number))
})
const CpuProfile = Schema.Struct({
  nodes: Schema.Array(ProfileNode),
  samples: Schema.Array(Schema.Number),
  timeDeltas: Schema.Array(Schema.Number)
})
type ProfileNode = typeof ProfileNode.Type
type CallFrame = typeof CallFrame.Type

/** The module path below `node_modules/` or the compiled tree, or a node builtin as it is named. */
const shortUrl = (url: string): string =>
  url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\//, "")
    .replace(/.*\/dist\/(src|bench)\//, "$1/")

const categories: ReadonlyArray<readonly [string, (f: CallFrame, url: string) => boolean]> = [
  ["GC", (f) => f.functionName === "(garbage collector)"],
  ["JSON.parse / stringify", (f, url) => url === "" && (f.functionName === "parse" || f.functionName === "stringify")],
  ["socket writes (writev, TLS)", (f, url) => url === "" && f.functionName === "writev"],
  ["effect Schema decoding", (_, url) => /^effect\/dist\/esm\/(ParseResult|Schema|internal\/schema)/.test(url)],
  ["effect streams (channel executor)", (_, url) => /^effect\/dist\/esm\/internal\/(channel|stream)/.test(url)],
  ["effect queues, PubSub, Deferred", (_, url) => /^effect\/dist\/esm\/internal\/(queue|pubsub|mailbox|deferred)/.test(url)],
  ["effect STM", (_, url) => url.startsWith("effect/dist/esm/internal/stm/")],
  ["effect runtime (fibers, ops, FiberRefs)", (_, url) => url.startsWith("effect/")],
  ["logging (pino)", (_, url) => /^(pino|sonic-boom)/.test(url)],
  ["node HTTP, TLS, net, streams", (_, url) => /^node:(_http|https|http|_tls|tls|net|internal\/(streams|stream_base|url))/.test(url)],
  ["node events, timers, tick queue", (_, url) => /^node:(events|timers|internal\/(timers|process\/task_queues))/.test(url)],
  ["node zlib, crypto", (_, url) => /^node:(zlib|internal\/crypto)/.test(url)],
  ["node module loading", (_, url) => url.startsWith("node:internal/modules")]
]

const categoryOf = (f: CallFrame): string => {
  const url = shortUrl(f.url)
  const match = categories.find(([, test]) => test(f, url))
  if (match !== undefined) return match[0]
  if (/^(src|bench)\//.test(url)) return `ours: ${url.split("/").slice(0, 2).join("/")}`
  return url === "" ? `native: ${f.functionName}` : `other: ${url.split("/")[0]}`
}

const frameName = (f: CallFrame): string => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`

const table = (title: string, rows: Map<string, number>, busy: number, top: number): string =>
  [
    `${title}`,
    ...[...rows]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${name}`)
  ].join("\n")

const add = (m: Map<string, number>, key: string, us: number) => m.set(key, (m.get(key) ?? 0) + us)

const summarise = (file: string, top: number): string => {
  const decoded = Schema.decodeUnknownEither(CpuProfile)(JSON.parse(fs.readFileSync(file, "utf8")))
  if (Either.isLeft(decoded)) return `${file}: not a .cpuprofile: ${decoded.left.message}`
  const profile = decoded.right
  const nodes = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]))
  const byCategory = new Map<string, number>()
  const bySelf = new Map<string, number>()
  let busy = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    // A sample lasts until the next one; the last has no length.
    const us = profile.timeDeltas[i + 1] ?? 0
    const frame = nodes.get(id)?.callFrame
    if (frame === undefined) return
    if (frame.functionName === "(idle)") {
      idle += us
      return
    }
    busy += us
    add(byCategory, categoryOf(frame), us)
    add(bySelf, frameName(frame), us)
  })
  return [
    `${file}: busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    table("\nself time by category:", byCategory, busy, top),
    table("\ntop functions by self time:", bySelf, busy, top)
  ].join("\n")
}

const args = process.argv.slice(2)
const topAt = args.indexOf("--top")
const top = topAt < 0 ? 30 : Number(args[topAt + 1])
const files = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1))
if (files.length === 0 || !Number.isInteger(top) || top <= 0) {
  console.error("usage: npx tsx bench/profileSummary.ts <file.cpuprofile>... [--top N]")
  process.exitCode = 2
} else {
  for (const file of files) console.log(summarise(file, top))
}
