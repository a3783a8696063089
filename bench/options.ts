/** Command-line options of `npm run bench -- ...`. */
import { Data, Either } from "effect"

export const benchNames = ["throughput", "converge", "resync", "startup", "memory", "outbox", "pull", "operations", "flags"] as const
export type BenchName = (typeof benchNames)[number]

/** Names that stand for several benchmarks: `runtime` measures every figure of issue 9's table. */
const aliases: Readonly<Record<string, ReadonlyArray<BenchName>>> = { runtime: ["throughput", "converge", "memory"] }

export interface BenchOptions {
  /** Benchmarks to run, in the order of `benchNames`. */
  readonly only: ReadonlyArray<BenchName>
  /** ApplicationInstances for throughput, resync and startup. */
  readonly count: number
  /** runCommand.job Operations for the operations benchmark. */
  readonly operations: number
  /** Apply jobs of the pull benchmark's throughput run. */
  readonly pullJobs: number
  /** Jobs of the pull benchmark's latency run (offered at 50 jobs/s). */
  readonly pullLatencyJobs: number
  /** Keys the pull benchmark records into a fresh idempotency store. */
  readonly pullStoreKeys: number
  /** Cache sizes the memory benchmark grows through, ascending. */
  readonly sizes: ReadonlyArray<number>
  /** The operator's maxConcurrentReconciles, and the plain client's concurrency. */
  readonly workers: number
  /** Resync period of the resync benchmark, in seconds. */
  readonly resyncSeconds: number
  /** Full resync passes the resync benchmark waits for. */
  readonly resyncPasses: number
  /** Concurrent creates when the harness fills a namespace. */
  readonly createConcurrency: number
  /** Concurrent lanes of the plain client that seeds the memory benchmark's larger sizes. */
  readonly seedConcurrency: number
  /** Budget for the whole run; the memory benchmark stops growing when it runs out. */
  readonly maxMinutes: number
  /** Node.js flags for every operator child process, space-separated (e.g. `--max-semi-space-size=4`). */
  readonly nodeOptions: string
  /** Node.js flag sets the flags benchmark compares, one run each ("" is none). */
  readonly flagSets: ReadonlyArray<string>
  /** How operator child processes authenticate, where both are not measured side by side. */
  readonly auth: "in-cluster" | "kubeconfig"
  readonly help: boolean
}

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The Node.js flags worth measuring against none (issue 9 item 4), and the chart's former default. */
const defaultFlagSets = [
  "",
  "--max-semi-space-size=1",
  "--max-semi-space-size=2",
  "--max-semi-space-size=4",
  "--max-semi-space-size=8",
  "--max-semi-space-size=16",
  "--max-old-space-size=192 --max-semi-space-size=8",
  "--optimize-for-size",
  "--single-threaded-gc",
  "--lite-mode"
]

export const defaults: BenchOptions = {
  // The flags benchmark runs the operator once per flag set: only when asked.
  only: benchNames.filter((n) => n !== "flags"),
  count: 1000,
  operations: 500,
  pullJobs: 10_000,
  pullLatencyJobs: 1000,
  pullStoreKeys: 100_000,
  sizes: [1000, 10000],
  workers: 4,
  resyncSeconds: 10,
  resyncPasses: 3,
  createConcurrency: 8,
  seedConcurrency: 32,
  maxMinutes: 15,
  nodeOptions: "",
  flagSets: defaultFlagSets,
  auth: "in-cluster",
  help: false
}

export const usage = `Usage: npm run bench -- [options]

  --only <names>            comma-separated subset of: ${benchNames.join(", ")} (default: all but flags),
                            or runtime (= ${aliases["runtime"]?.join(",")}: every figure of issue 9's table)
  --count <n>               ApplicationInstances for throughput, resync and startup (default ${defaults.count})
  --operations <n>          runCommand.job Operations for the operations benchmark (default ${defaults.operations})
  --pull-jobs <n>           apply jobs of the pull benchmark's throughput run (default ${defaults.pullJobs})
  --pull-latency-jobs <n>   jobs of its latency run at 50 jobs/s (default ${defaults.pullLatencyJobs})
  --pull-store-keys <n>     keys it records into a fresh idempotency store (default ${defaults.pullStoreKeys})
  --sizes <n,m,...>         cache sizes for the memory benchmark, ascending (default ${defaults.sizes.join(",")})
  --workers <n>             operator maxConcurrentReconciles = plain-client concurrency (default ${defaults.workers})
  --resync-seconds <n>      resync period of the resync benchmark (default ${defaults.resyncSeconds})
  --resync-passes <n>       resync passes to observe (default ${defaults.resyncPasses})
  --create-concurrency <n>  concurrent creates when filling a namespace (default ${defaults.createConcurrency})
  --seed-concurrency <n>    plain-client lanes seeding the memory benchmark's larger sizes (default ${defaults.seedConcurrency})
  --max-minutes <n>         time budget; the memory benchmark stops growing when it runs out (default ${defaults.maxMinutes})
  --node-options "<flags>"  Node.js flags for every operator child process (default none)
  --flag-sets "<a;b;...>"   flag sets the flags benchmark compares, ";"-separated, "none" for no flags
                            (default: ${defaultFlagSets.map((f) => (f === "" ? "none" : f)).join("; ")})
  --auth in-cluster|kubeconfig
                            how operator child processes authenticate (default ${defaults.auth}: a
                            ServiceAccount token in a private mount namespace, as in a Pod; falls
                            back to kubeconfig where unshare is not allowed)
  --help

Runs against a private kube-apiserver + etcd, or the cluster VWORKSPACE_TEST_KUBECONFIG names.
Tables go to stdout, progress to stderr.`

const positiveInt = (flag: string, raw: string | undefined): Either.Either<number, UsageError> => {
  const n = raw === undefined ? NaN : Number(raw)
  return Number.isInteger(n) && n > 0
    ? Either.right(n)
    : Either.left(new UsageError({ message: `${flag} needs a positive integer, got ${raw === undefined ? "nothing" : `"${raw}"`}` }))
}

const isBenchName = (s: string): s is BenchName => (benchNames as ReadonlyArray<string>).includes(s)

export const parseOptions = (argv: ReadonlyArray<string>): Either.Either<BenchOptions, UsageError> => {
  let options: BenchOptions = defaults
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    // `--flag=value` and `--flag value` both work.
    const eq = arg.indexOf("=")
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string | undefined => (eq > 0 ? arg.slice(eq + 1) : argv[++i])
    const int = (): Either.Either<number, UsageError> => positiveInt(flag, value())
    const set = <K extends keyof BenchOptions>(key: K, v: Either.Either<BenchOptions[K], UsageError>): UsageError | undefined => {
      if (Either.isLeft(v)) return v.left
      options = { ...options, [key]: v.right }
      return undefined
    }
    let failed: UsageError | undefined
    switch (flag) {
      case "--help":
      case "-h":
        options = { ...options, help: true }
        break
      case "--only": {
        const names = (value() ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "")
          .flatMap((s): ReadonlyArray<string> => aliases[s] ?? [s])
        const unknown = names.filter((n) => !isBenchName(n))
        if (names.length === 0 || unknown.length > 0) {
          return Either.left(
            new UsageError({ message: `--only takes names from ${[...benchNames, ...Object.keys(aliases)].join(", ")}; got "${names.join(",")}"` })
          )
        }
        options = { ...options, only: benchNames.filter((n) => names.includes(n)) }
        break
      }
      case "--sizes": {
        const raw = (value() ?? "").split(",").filter((s) => s !== "")
        const sizes: Array<number> = []
        for (const s of raw) {
          const n = positiveInt("--sizes", s)
          if (Either.isLeft(n)) return Either.left(n.left)
          sizes.push(n.right)
        }
        if (sizes.length === 0 || sizes.some((s, j) => j > 0 && s <= (sizes[j - 1] ?? 0))) {
          return Either.left(new UsageError({ message: "--sizes needs ascending positive integers, e.g. 1000,10000" }))
        }
        options = { ...options, sizes }
        break
      }
      case "--node-options":
        options = { ...options, nodeOptions: value() ?? "" }
        break
      case "--flag-sets": {
        const sets = (value() ?? "").split(";").map((f) => f.trim()).filter((f) => f !== "")
        if (sets.length === 0) return Either.left(new UsageError({ message: '--flag-sets needs flag sets separated by ";", e.g. "none;--max-semi-space-size=4"' }))
        options = { ...options, flagSets: sets.map((f) => (f === "none" ? "" : f)) }
        break
      }
      case "--auth": {
        const auth = value()
        if (auth !== "in-cluster" && auth !== "kubeconfig") {
          return Either.left(new UsageError({ message: `--auth takes in-cluster or kubeconfig; got "${auth ?? ""}"` }))
        }
        options = { ...options, auth }
        break
      }
      case "--count":
        failed = set("count", int())
        break
      case "--operations":
        failed = set("operations", int())
        break
      case "--pull-jobs":
        failed = set("pullJobs", int())
        break
      case "--pull-latency-jobs":
        failed = set("pullLatencyJobs", int())
        break
      case "--pull-store-keys":
        failed = set("pullStoreKeys", int())
        break
      case "--workers":
        failed = set("workers", int())
        break
      case "--resync-seconds":
        failed = set("resyncSeconds", int())
        break
      case "--resync-passes":
        failed = set("resyncPasses", int())
        break
      case "--create-concurrency":
        failed = set("createConcurrency", int())
        break
      case "--seed-concurrency":
        failed = set("seedConcurrency", int())
        break
      case "--max-minutes":
        failed = set("maxMinutes", int())
        break
      default:
        return Either.left(new UsageError({ message: `unknown argument "${arg}"` }))
    }
    if (failed !== undefined) return Either.left(failed)
  }
  return Either.right(options)
}
