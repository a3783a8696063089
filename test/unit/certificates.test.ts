import { X509Certificate } from "node:crypto"
import { once } from "node:events"
import { createServer, get } from "node:https"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.js"

const now = new Date("2026-12-02T04:00:00Z")
const day = 86_400_000
const ca = createCertificateAuthority({ commonName: "test-ca", now, validForMillis: 365 * day })
const serving = issueServingCertificate(ca, {
  commonName: "webhook",
  now,
  validForMillis: 30 * day,
  hosts: ["webhook.system.svc", "127.0.0.1", "::1"]
})

describe("self-signed certificates", () => {
  it("makes a CA that issued the serving certificate, with the requested names and validity", () => {
    const caCert = new X509Certificate(ca.certificatePem)
    const leaf = new X509Certificate(serving.certificatePem)
    expect(caCert.ca).toBe(true)
    expect(leaf.ca).toBe(false)
    expect(leaf.checkIssued(caCert)).toBe(true)
    expect(leaf.verify(caCert.publicKey)).toBe(true)
    expect(leaf.subjectAltName).toBe("DNS:webhook.system.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")
    expect(leaf.checkHost("webhook.system.svc")).toBe("webhook.system.svc")
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1")
    expect(new Date(leaf.validTo).getTime()).toBe(now.getTime() + 30 * day)
    expect(new Date(leaf.validFrom).getTime()).toBeLessThan(now.getTime())
    expect(serving.notAfter.getTime()).toBe(now.getTime() + 30 * day)
  })

  it("gives each certificate its own key and serial", () => {
    const again = issueServingCertificate(ca, { commonName: "webhook", now, validForMillis: day, hosts: ["a"] })
    expect(again.privateKeyPem).not.toBe(serving.privateKeyPem)
    expect(new X509Certificate(again.certificatePem).serialNumber).not.toBe(new X509Certificate(serving.certificatePem).serialNumber)
  })

  it("serves TLS that a client trusting only the CA accepts, and one trusting another CA refuses", async () => {
    const live = createCertificateAuthority({ commonName: "live-ca", now: new Date(), validForMillis: day })
    const cert = issueServingCertificate(live, { commonName: "s", now: new Date(), validForMillis: day, hosts: ["127.0.0.1"] })
    const server = createServer({ cert: cert.certificatePem, key: cert.privateKeyPem }, (_req, res) => res.end("ok")).listen(0, "127.0.0.1")
    await once(server, "listening")
    const port = (server.address() as AddressInfo).port
    const fetchWith = (caPem: string) =>
      new Promise<string>((resolve, reject) => {
        get({ host: "127.0.0.1", port, path: "/", ca: caPem }, (res) => {
          let body = ""
          res.on("data", (d: Buffer) => (body += d.toString()))
          res.on("end", () => resolve(body))
        }).on("error", reject)
      })
    try {
      expect(await fetchWith(live.certificatePem)).toBe("ok")
      await expect(fetchWith(ca.certificatePem)).rejects.toThrow()
    } finally {
      server.close()
    }
  })
})
