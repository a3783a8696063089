import { describe, expect, it } from "vitest"
import { findInlineSecret } from "../../src/validation/inlineSecrets.js"

describe("inline secret scan", () => {
  it.each([
    [{ postgresql: { auth: { password: "hunter2" } } }, 'inline secret material rejected at "postgresql.auth.password": use secretRef or configMapRef'],
    [{ list: [{ clientSecret: "x" }] }, 'inline secret material rejected at "list[0].clientSecret": use secretRef or configMapRef'],
    [{ s3: { accessKey: "AKIA" } }, 'inline secret material rejected at "s3.accessKey": use secretRef or configMapRef'],
    [{ Token: "abc" }, 'inline secret material rejected at "Token": use secretRef or configMapRef'],
    [{ tls: { key: "-----BEGIN RSA PRIVATE KEY-----\nMII..." } }, 'inline secret material rejected at "tls.key": PEM private key not allowed inline']
  ])("rejects %j", (values, message) => {
    expect(findInlineSecret(values)).toBe(message)
  })

  it.each([
    [{ passwordKey: "x" }],
    [{ auth: { existingSecret: "db-credentials", existingSecretPasswordKey: "password" } }],
    [{ password: "" }],
    [{ password: "  <set via ExternalSecret>  " }],
    [{ replicas: 3, secret: { enabled: true } }],
    [{ hosts: ["password-less.example.test"] }],
    [{ tokenTTL: "1h" }]
  ])("allows %j", (values) => {
    expect(findInlineSecret(values)).toBeUndefined()
  })
})
