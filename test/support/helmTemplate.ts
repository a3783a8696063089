/**
 * A small, test-only renderer of the chart's templates: the subset of Go templates and Helm/sprig
 * functions that charts/vworkspace-operator uses, so tests can check what the chart renders without
 * a `helm` binary. It is stricter than Helm: an unknown function, keyword or a field of a nil
 * value is an error, so a template that drifts outside the subset fails loudly instead of
 * rendering something else.
 *
 * Supported: text with `{{- -}}` trimming, comments, `define`/`include`, `if`/`else if`/`else`,
 * `with`/`else`, `range`/`else` over a list (the element as `.`), `$var :=`, pipelines, parenthesised pipelines, and the functions in `functions`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import YAML from "yaml"

export class TemplateError extends Error {
  override readonly name = "TemplateError"
}

type Value = unknown

// --- lexing -----------------------------------------------------------------------------------

interface TextToken {
  readonly kind: "text"
  text: string
}
interface ActionToken {
  readonly kind: "action"
  readonly body: string
  readonly where: string
}
type Token = TextToken | ActionToken

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r"

const lex = (src: string, file: string): Array<Token> => {
  const tokens: Array<Token> = []
  let pos = 0
  let trimNext = false
  const line = (at: number) => src.slice(0, at).split("\n").length
  const pushText = (text: string) => tokens.push({ kind: "text", text: trimNext ? text.replace(/^[ \t\r\n]+/, "") : text })
  while (pos < src.length) {
    const open = src.indexOf("{{", pos)
    if (open < 0) {
      pushText(src.slice(pos))
      trimNext = false
      break
    }
    pushText(src.slice(pos, open))
    trimNext = false
    let start = open + 2
    if (src[start] === "-" && isSpace(src[start + 1])) {
      const last = tokens[tokens.length - 1]
      if (last?.kind === "text") last.text = last.text.replace(/[ \t\r\n]+$/, "")
      start += 2
    }
    // Find the closing braces outside string literals.
    let i = start
    let quote: string | undefined
    for (; i < src.length; i++) {
      const c = src[i]
      if (quote !== undefined) {
        if (c === "\\" && quote === '"') i++
        else if (c === quote) quote = undefined
      } else if (c === '"' || c === "`") quote = c
      else if (c === "}" && src[i + 1] === "}") break
    }
    if (i >= src.length) throw new TemplateError(`${file}:${line(open)}: unclosed action`)
    let body = src.slice(start, i)
    if (body.endsWith(" -") || body.endsWith("\t-") || body.endsWith("\n-")) {
      body = body.slice(0, -2)
      trimNext = true
    }
    const trimmed = body.trim()
    if (!(trimmed.startsWith("/*") && trimmed.endsWith("*/"))) {
      tokens.push({ kind: "action", body: trimmed, where: `${file}:${line(open)}` })
    }
    pos = i + 2
  }
  return tokens
}

// --- expressions ------------------------------------------------------------------------------

type Operand =
  | { readonly kind: "literal"; readonly value: Value }
  | { readonly kind: "field"; readonly base: "dot" | { readonly variable: string }; readonly path: ReadonlyArray<string> }
  | { readonly kind: "function"; readonly name: string }
  | { readonly kind: "pipeline"; readonly pipeline: Pipeline }

interface Pipeline {
  readonly declare?: string
  readonly commands: ReadonlyArray<ReadonlyArray<Operand>>
}

const exprLex = (s: string, where: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    if (isSpace(c)) {
      i++
    } else if (c === "(" || c === ")" || c === "|") {
      out.push(c)
      i++
    } else if (c === ":" && s[i + 1] === "=") {
      out.push(":=")
      i += 2
    } else if (c === '"' || c === "`") {
      let j = i + 1
      while (j < s.length && s[j] !== c) j += c === '"' && s[j] === "\\" ? 2 : 1
      if (j >= s.length) throw new TemplateError(`${where}: unterminated string`)
      out.push(s.slice(i, j + 1))
      i = j + 1
    } else {
      let j = i
      while (j < s.length && !isSpace(s[j]) && !"()|".includes(s[j]!)) j++
      out.push(s.slice(i, j))
      i = j
    }
  }
  return out
}

const parseOperand = (tok: string, where: string): Operand => {
  if (tok.startsWith('"')) return { kind: "literal", value: JSON.parse(tok) as string }
  if (tok.startsWith("`")) return { kind: "literal", value: tok.slice(1, -1) }
  if (tok === "true" || tok === "false") return { kind: "literal", value: tok === "true" }
  if (tok === "nil") return { kind: "literal", value: undefined }
  if (/^-?\d+(\.\d+)?$/.test(tok)) return { kind: "literal", value: Number(tok) }
  if (tok === ".") return { kind: "field", base: "dot", path: [] }
  if (tok.startsWith(".")) return { kind: "field", base: "dot", path: tok.slice(1).split(".") }
  if (tok.startsWith("$")) {
    const [variable, ...rest] = tok.split(".")
    return { kind: "field", base: { variable: variable! }, path: rest }
  }
  if (/^[A-Za-z_]\w*$/.test(tok)) return { kind: "function", name: tok }
  throw new TemplateError(`${where}: cannot parse "${tok}"`)
}

const parsePipeline = (tokens: ReadonlyArray<string>, where: string): Pipeline => {
  let pos = 0
  const pipeline = (): Pipeline => {
    let declare: string | undefined
    if (tokens[pos]?.startsWith("$") && tokens[pos + 1] === ":=") {
      declare = tokens[pos]
      pos += 2
    }
    const commands: Array<Array<Operand>> = [[]]
    while (pos < tokens.length && tokens[pos] !== ")") {
      const tok = tokens[pos++]!
      if (tok === "|") commands.push([])
      else if (tok === "(") {
        const inner = pipeline()
        if (tokens[pos++] !== ")") throw new TemplateError(`${where}: missing )`)
        commands[commands.length - 1]!.push({ kind: "pipeline", pipeline: inner })
      } else commands[commands.length - 1]!.push(parseOperand(tok, where))
    }
    if (commands.some((c) => c.length === 0)) throw new TemplateError(`${where}: empty command`)
    return declare === undefined ? { commands } : { declare, commands }
  }
  const result = pipeline()
  if (pos !== tokens.length) throw new TemplateError(`${where}: unexpected )`)
  return result
}

// --- parsing ----------------------------------------------------------------------------------

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "output"; readonly pipeline: Pipeline; readonly where: string }
  | {
      readonly kind: "if" | "with" | "range"
      readonly branches: ReadonlyArray<{ readonly pipeline: Pipeline; readonly body: ReadonlyArray<Node> }>
      readonly otherwise: ReadonlyArray<Node>
      readonly where: string
    }

interface Parsed {
  readonly nodes: ReadonlyArray<Node>
  readonly defines: ReadonlyMap<string, ReadonlyArray<Node>>
}

const parse = (tokens: ReadonlyArray<Token>, file: string): Parsed => {
  const defines = new Map<string, ReadonlyArray<Node>>()
  let pos = 0
  /** Parses nodes until one of `stops` (returned) or the end of input. */
  const nodes = (stops: ReadonlyArray<string>): { nodes: Array<Node>; stop?: ActionToken } => {
    const out: Array<Node> = []
    while (pos < tokens.length) {
      const tok = tokens[pos++]!
      if (tok.kind === "text") {
        if (tok.text !== "") out.push({ kind: "text", text: tok.text })
        continue
      }
      const [keyword = ""] = tok.body.split(/\s+/, 1)
      const rest = tok.body.slice(keyword.length).trim()
      if (stops.includes(keyword)) return { nodes: out, stop: tok }
      if (keyword === "if" || keyword === "with" || keyword === "range") {
        const branches: Array<{ pipeline: Pipeline; body: ReadonlyArray<Node> }> = []
        let pipeline = parsePipeline(exprLex(rest, tok.where), tok.where)
        let otherwise: ReadonlyArray<Node> = []
        for (;;) {
          const part = nodes(["else", "end"])
          branches.push({ pipeline, body: part.nodes })
          if (part.stop === undefined) throw new TemplateError(`${tok.where}: missing {{ end }}`)
          if (part.stop.body === "end") break
          const elseRest = part.stop.body.slice("else".length).trim()
          if (keyword === "if" && elseRest.startsWith("if ")) {
            pipeline = parsePipeline(exprLex(elseRest.slice(3), part.stop.where), part.stop.where)
            continue
          }
          if (elseRest !== "") throw new TemplateError(`${part.stop.where}: unsupported "${part.stop.body}"`)
          const tail = nodes(["end"])
          if (tail.stop === undefined) throw new TemplateError(`${tok.where}: missing {{ end }}`)
          otherwise = tail.nodes
          break
        }
        out.push({ kind: keyword, branches, otherwise, where: tok.where })
      } else if (keyword === "define") {
        const name = JSON.parse(rest) as string
        const body = nodes(["end"])
        if (body.stop === undefined) throw new TemplateError(`${tok.where}: missing {{ end }} of define`)
        defines.set(name, body.nodes)
      } else if (["template", "block", "break", "continue", "else", "end"].includes(keyword)) {
        throw new TemplateError(`${tok.where}: "${keyword}" is not supported here`)
      } else {
        out.push({ kind: "output", pipeline: parsePipeline(exprLex(tok.body, tok.where), tok.where), where: tok.where })
      }
    }
    if (stops.length > 0) throw new TemplateError(`${file}: missing {{ end }}`)
    return { nodes: out }
  }
  return { nodes: nodes([]).nodes, defines }
}

// --- evaluation -------------------------------------------------------------------------------

interface Scope {
  readonly dot: Value
  readonly vars: Map<string, Value>
  readonly parent?: Scope
}

const lookupVar = (scope: Scope, name: string, where: string): Value => {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) if (s.vars.has(name)) return s.vars.get(name)
  throw new TemplateError(`${where}: undefined variable ${name}`)
}

const isRecord = (v: Value): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Go templates' notion of truth. */
const truthy = (v: Value): boolean => {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false
  if (Array.isArray(v)) return v.length > 0
  if (isRecord(v)) return Object.keys(v).length > 0
  return true
}

const show = (v: Value, where: string): string => {
  if (v === undefined || v === null) return ""
  if (typeof v === "string") return v
  if (typeof v === "number" || typeof v === "boolean") return String(v)
  throw new TemplateError(`${where}: cannot print ${JSON.stringify(v)}`)
}

const sprintf = (format: string, args: ReadonlyArray<Value>, where: string): string => {
  let n = 0
  return format.replace(/%([svdtq%])/g, (_m, verb: string) => {
    if (verb === "%") return "%"
    if (n >= args.length) throw new TemplateError(`${where}: printf: missing argument`)
    const arg = args[n++]
    if (verb === "d" && !Number.isInteger(arg)) throw new TemplateError(`${where}: printf %d of ${String(arg)}`)
    if (verb === "t" && typeof arg !== "boolean") throw new TemplateError(`${where}: printf %t of ${String(arg)}`)
    return verb === "q" ? JSON.stringify(show(arg, where)) : show(arg, where)
  })
}

const toYaml = (v: Value): string =>
  v === undefined || v === null ? "null" : YAML.stringify(v, { lineWidth: 0 }).replace(/\n$/, "")

const indent = (n: number, s: string) => " ".repeat(n) + s.replace(/\n/g, `\n${" ".repeat(n)}`)

const str = (v: Value, where: string): string => {
  if (typeof v === "string") return v
  if (typeof v === "number" || typeof v === "boolean") return String(v)
  if (v === undefined || v === null) return ""
  throw new TemplateError(`${where}: expected a string, got ${JSON.stringify(v)}`)
}

const num = (v: Value, where: string): number => {
  if (typeof v === "number") return v
  throw new TemplateError(`${where}: expected a number, got ${JSON.stringify(v)}`)
}

type Fn = (args: ReadonlyArray<Value>, where: string, include: (name: string, data: Value) => string) => Value

const arity = (n: number, fn: Fn): Fn => (args, where, include) => {
  if (args.length !== n) throw new TemplateError(`${where}: expected ${n} arguments, got ${args.length}`)
  return fn(args, where, include)
}

/** Helm's and sprig's functions, as far as the chart uses them. */
const functions: Record<string, Fn> = {
  include: arity(2, ([name, data], where, include) => include(str(name, where), data)),
  default: arity(2, ([fallback, given]) => (truthy(given) ? given : fallback)),
  quote: (args, where) =>
    args
      .filter((a) => a !== undefined && a !== null)
      .map((a) => JSON.stringify(str(a, where)))
      .join(" "),
  printf: (args, where) => sprintf(str(args[0], where), args.slice(1), where),
  trunc: arity(2, ([n, s], where) => {
    const text = str(s, where)
    const len = num(n, where)
    return len >= 0 ? text.slice(0, len) : text.slice(Math.max(0, text.length + len))
  }),
  trimSuffix: arity(2, ([suffix, s], where) => {
    const text = str(s, where)
    const sfx = str(suffix, where)
    return sfx !== "" && text.endsWith(sfx) ? text.slice(0, -sfx.length) : text
  }),
  replace: arity(3, ([from, to, s], where) => str(s, where).split(str(from, where)).join(str(to, where))),
  contains: arity(2, ([sub, s], where) => str(s, where).includes(str(sub, where))),
  indent: arity(2, ([n, s], where) => indent(num(n, where), str(s, where))),
  nindent: arity(2, ([n, s], where) => `\n${indent(num(n, where), str(s, where))}`),
  toYaml: arity(1, ([v]) => toYaml(v)),
  splitList: arity(2, ([sep, s], where) => str(s, where).split(str(sep, where))),
  last: arity(1, ([list], where) => {
    if (!Array.isArray(list)) throw new TemplateError(`${where}: last of a non-list`)
    return list[list.length - 1]
  }),
  int: arity(1, ([v], where) => (typeof v === "string" ? Math.trunc(Number(v)) || 0 : Math.trunc(num(v, where)))),
  and: (args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
  or: (args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
  not: arity(1, ([v]) => !truthy(v)),
  eq: arity(2, ([a, b]) => a === b),
  ne: arity(2, ([a, b]) => a !== b),
  gt: arity(2, ([a, b], where) => num(a, where) > num(b, where)),
  lt: arity(2, ([a, b], where) => num(a, where) < num(b, where)),
  fail: arity(1, ([message], where) => {
    throw new TemplateError(`${where}: fail: ${str(message, where)}`)
  })
}

class Renderer {
  private depth = 0
  constructor(private readonly defines: ReadonlyMap<string, ReadonlyArray<Node>>) {}

  include = (name: string, data: Value): string => {
    const body = this.defines.get(name)
    if (body === undefined) throw new TemplateError(`include: no template "${name}"`)
    if (++this.depth > 50) throw new TemplateError(`include: "${name}" recurses too deep`)
    try {
      return this.run(body, { dot: data, vars: new Map([["$", data]]) })
    } finally {
      this.depth--
    }
  }

  run(nodes: ReadonlyArray<Node>, scope: Scope): string {
    let out = ""
    for (const node of nodes) {
      if (node.kind === "text") out += node.text
      else if (node.kind === "output") {
        const value = this.pipeline(node.pipeline, scope, node.where)
        if (node.pipeline.declare === undefined) out += show(value, node.where)
      } else if (node.kind === "range") {
        const branch = node.branches[0]!
        const inner: Scope = { dot: scope.dot, vars: new Map(), parent: scope }
        const list = this.pipeline(branch.pipeline, inner, node.where)
        if (list !== undefined && list !== null && !Array.isArray(list)) {
          throw new TemplateError(`${node.where}: range over a value that is not a list`)
        }
        const items: ReadonlyArray<Value> = list ?? []
        for (const item of items) out += this.run(branch.body, { ...inner, dot: item })
        if (items.length === 0) out += this.run(node.otherwise, inner)
      } else {
        let taken = false
        for (const branch of node.branches) {
          const inner: Scope = { dot: scope.dot, vars: new Map(), parent: scope }
          const value = this.pipeline(branch.pipeline, inner, node.where)
          if (truthy(value)) {
            out += this.run(branch.body, node.kind === "with" ? { ...inner, dot: value } : inner)
            taken = true
            break
          }
        }
        if (!taken) out += this.run(node.otherwise, { dot: scope.dot, vars: new Map(), parent: scope })
      }
    }
    return out
  }

  private pipeline(p: Pipeline, scope: Scope, where: string): Value {
    let value: Value
    p.commands.forEach((command, i) => {
      value = this.command(command, scope, where, i === 0 ? [] : [value])
    })
    if (p.declare !== undefined) scope.vars.set(p.declare, value)
    return value
  }

  private command(command: ReadonlyArray<Operand>, scope: Scope, where: string, piped: ReadonlyArray<Value>): Value {
    const [head, ...rest] = command
    if (head?.kind === "function") {
      const fn = functions[head.name]
      if (fn === undefined) throw new TemplateError(`${where}: function "${head.name}" is not supported`)
      return fn([...rest.map((o) => this.operand(o, scope, where)), ...piped], where, this.include)
    }
    if (command.length !== 1 || piped.length > 0 || head === undefined) {
      throw new TemplateError(`${where}: cannot call a non-function`)
    }
    return this.operand(head, scope, where)
  }

  private operand(o: Operand, scope: Scope, where: string): Value {
    switch (o.kind) {
      case "literal":
        return o.value
      case "pipeline":
        return this.pipeline(o.pipeline, { dot: scope.dot, vars: new Map(), parent: scope }, where)
      case "function":
        return this.command([o], scope, where, [])
      case "field": {
        let v = o.base === "dot" ? scope.dot : lookupVar(scope, o.base.variable, where)
        for (const key of o.path) {
          if (!isRecord(v)) throw new TemplateError(`${where}: nil pointer evaluating .${key}`)
          v = v[key]
        }
        return v
      }
    }
  }
}

// --- the chart --------------------------------------------------------------------------------

export const chartDir = path.join(import.meta.dirname, "../../charts/vworkspace-operator")

export interface RenderOptions {
  readonly releaseName: string
  readonly namespace: string
  /** Merged over values.yaml, as `helm install -f` would. */
  readonly values?: Record<string, unknown>
}

export interface RenderedChart {
  /** Rendered text per template file (name relative to templates/), NOTES.txt included. */
  readonly files: ReadonlyMap<string, string>
  /** Every non-empty YAML document of the manifests (NOTES.txt excluded), in file order. */
  readonly objects: ReadonlyArray<Record<string, unknown>>
}

export const deepMerge = (base: Value, over: Value): Value =>
  isRecord(base) && isRecord(over)
    ? Object.fromEntries(
        [...new Set([...Object.keys(base), ...Object.keys(over)])].map((k) => [
          k,
          k in over ? deepMerge(base[k], over[k]) : base[k]
        ])
      )
    : over

const readYaml = (file: string): Record<string, unknown> => {
  const doc: unknown = YAML.parse(fs.readFileSync(file, "utf8"))
  if (!isRecord(doc)) throw new TemplateError(`${file}: not a YAML mapping`)
  return doc
}

export const chartMetadata = (): Record<string, unknown> => readYaml(path.join(chartDir, "Chart.yaml"))
export const defaultValues = (): Record<string, unknown> => readYaml(path.join(chartDir, "values.yaml"))

/** Renders every template of the chart, like `helm template` with the given release and values. */
export const renderChart = (options: RenderOptions): RenderedChart => {
  const templatesDir = path.join(chartDir, "templates")
  const names = fs
    .readdirSync(templatesDir, { recursive: true, encoding: "utf8" })
    .filter((n) => fs.statSync(path.join(templatesDir, n)).isFile())
    .sort()
  const parsed = names.map((name) => ({
    name,
    parsed: parse(lex(fs.readFileSync(path.join(templatesDir, name), "utf8"), `templates/${name}`), name)
  }))
  const defines = new Map<string, ReadonlyArray<Node>>()
  for (const p of parsed) for (const [k, v] of p.parsed.defines) defines.set(k, v)
  const chart = chartMetadata()
  const root = {
    Values: deepMerge(defaultValues(), options.values ?? {}),
    Release: { Name: options.releaseName, Namespace: options.namespace, Service: "Helm", IsInstall: true, IsUpgrade: false },
    Chart: { Name: chart["name"], Version: chart["version"], AppVersion: chart["appVersion"] }
  }
  const renderer = new Renderer(defines)
  const files = new Map<string, string>()
  const objects: Array<Record<string, unknown>> = []
  for (const { name, parsed: p } of parsed) {
    // Helm renders files starting with "_" for their definitions only.
    if (path.basename(name).startsWith("_")) continue
    const text = renderer.run(p.nodes, { dot: root, vars: new Map([["$", root]]) })
    files.set(name, text)
    if (name.endsWith(".txt")) continue
    for (const doc of YAML.parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new TemplateError(`templates/${name}: ${doc.errors[0]!.message}\n${text}`)
      const value: unknown = doc.toJS()
      if (value === null || value === undefined) continue
      if (!isRecord(value)) throw new TemplateError(`templates/${name}: a document is not a mapping`)
      objects.push(value)
    }
  }
  return { files, objects }
}
