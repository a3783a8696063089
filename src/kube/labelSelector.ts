/**
 * Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated), the form the
 * operator's namespace gate is configured with. Parsed once at start-up; a bad selector is a
 * typed error, not a crash.
 */
import { Data, Either } from "effect"

export class InvalidLabelSelector extends Data.TaggedError("InvalidLabelSelector")<{
  readonly selector: string
  readonly message: string
}> {}

type Requirement =
  | { readonly op: "eq"; readonly key: string; readonly value: string }
  | { readonly op: "neq"; readonly key: string; readonly value: string }
  | { readonly op: "exists"; readonly key: string }
  | { readonly op: "absent"; readonly key: string }

export interface LabelSelector {
  readonly text: string
  readonly requirements: ReadonlyArray<Requirement>
}

const keyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const valuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

export const parseLabelSelector = (text: string): Either.Either<LabelSelector, InvalidLabelSelector> => {
  const requirements: Array<Requirement> = []
  const fail = (message: string) => Either.left(new InvalidLabelSelector({ selector: text, message }))
  for (const raw of text.split(",")) {
    const part = raw.trim()
    if (part === "") continue
    const m = /^(!?)([^=!]+?)\s*(?:(==|=|!=)\s*(.*))?$/.exec(part)
    if (m === null) return fail(`cannot parse requirement "${part}"`)
    const [, bang, key = "", op, value = ""] = m
    if (!keyPattern.test(key)) return fail(`invalid label key "${key}"`)
    if (op !== undefined && !valuePattern.test(value.trim())) return fail(`invalid label value "${value}"`)
    if (bang === "!" && op !== undefined) return fail(`"!${key}" takes no value`)
    if (bang === "!") requirements.push({ op: "absent", key })
    else if (op === undefined) requirements.push({ op: "exists", key })
    else if (op === "!=") requirements.push({ op: "neq", key, value: value.trim() })
    else requirements.push({ op: "eq", key, value: value.trim() })
  }
  return Either.right({ text, requirements })
}

export const matchesLabels = (selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean =>
  selector.requirements.every((r) => {
    const v = labels?.[r.key]
    switch (r.op) {
      case "eq":
        return v === r.value
      case "neq":
        return v !== r.value
      case "exists":
        return v !== undefined
      case "absent":
        return v === undefined
    }
  })
