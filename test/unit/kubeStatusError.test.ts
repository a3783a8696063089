import { describe, expect, it } from "vitest"
import { Duration } from "effect"
import { errorFromResponse, errorFromWatchStatus } from "../../src/kube/statusError.js"
import { isTransient } from "../../src/kube/errors.js"

const status = (code: number, reason: string, message: string, details?: unknown) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, details })

describe("errorFromResponse", () => {
  it.each([
    [404, "NotFound", "NotFound"],
    [409, "AlreadyExists", "AlreadyExists"],
    [409, "Conflict", "Conflict"],
    [410, "Expired", "Gone"],
    [403, "Forbidden", "Forbidden"],
    [401, "Unauthorized", "Unauthorized"],
    [500, "InternalError", "ServerError"],
    [400, "BadRequest", "ServerError"]
  ])("%i %s becomes %s, with the server's message", (code, reason, tag) => {
    const e = errorFromResponse(code, status(code, reason, `configmaps "x" ${reason}`))
    expect(e._tag).toBe(tag)
    expect(e.message).toBe(`configmaps "x" ${reason}`)
  })

  it("keeps the status code of other errors; 5xx is transient, 4xx is not", () => {
    const e500 = errorFromResponse(503, status(503, "ServiceUnavailable", "try later"))
    const e400 = errorFromResponse(400, status(400, "BadRequest", "bad"))
    expect(e500).toMatchObject({ _tag: "ServerError", status: 503 })
    expect(isTransient(e500)).toBe(true)
    expect(isTransient(e400)).toBe(false)
  })

  it("422 carries the causes, each naming its field", () => {
    const e = errorFromResponse(
      422,
      status(422, "Invalid", 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value', {
        causes: [
          { reason: "FieldValueInvalid", message: "Invalid value: \"Bad_Name\"", field: "metadata.name" },
          { reason: "FieldValueRequired", message: "Required value" }
        ]
      })
    )
    expect(e._tag).toBe("Invalid")
    expect(e).toMatchObject({
      causes: [
        { field: "metadata.name", reason: "FieldValueInvalid", message: 'Invalid value: "Bad_Name"' },
        { reason: "FieldValueRequired", message: "Required value" }
      ]
    })
    expect(e.message).toContain("metadata.name")
  })

  it("429 takes retryAfter from the Retry-After header, then the body, else 1 s", () => {
    const body = status(429, "TooManyRequests", "slow down", { retryAfterSeconds: 7 })
    expect(errorFromResponse(429, body, "3")).toMatchObject({ _tag: "TooManyRequests", retryAfter: Duration.seconds(3) })
    expect(errorFromResponse(429, body)).toMatchObject({ retryAfter: Duration.seconds(7) })
    expect(errorFromResponse(429, "")).toMatchObject({ retryAfter: Duration.seconds(1) })
    expect(errorFromResponse(429, "", "soon")).toMatchObject({ retryAfter: Duration.seconds(1) })
  })

  it("a body that is not a Status still yields a typed error with its text", () => {
    const e = errorFromResponse(502, "<html>bad gateway</html>")
    expect(e).toMatchObject({ _tag: "ServerError", status: 502 })
    expect(e.message).toBe("HTTP 502: <html>bad gateway</html>")
    expect(errorFromResponse(404, "").message).toBe("HTTP 404")
  })
})

describe("errorFromWatchStatus", () => {
  it("an ERROR event with code 410 or reason Expired/Gone is Gone", () => {
    expect(errorFromWatchStatus({ kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 1 (42)" }))
      .toMatchObject({ _tag: "Gone", message: "too old resource version: 1 (42)" })
    expect(errorFromWatchStatus({ kind: "Status", reason: "Gone", message: "gone" })._tag).toBe("Gone")
  })

  it("other ERROR events map by their code", () => {
    expect(errorFromWatchStatus({ kind: "Status", code: 500, reason: "InternalError", message: "boom" })).toMatchObject({
      _tag: "ServerError",
      status: 500,
      message: "boom"
    })
    expect(errorFromWatchStatus("garbage")._tag).toBe("ServerError")
  })
})
