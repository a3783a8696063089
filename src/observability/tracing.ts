/**
 * Optional OpenTelemetry tracing (`--tracing-endpoint`): spans of the Effect program (one per
 * reconcile, one per Pull job) exported over OTLP/HTTP. Off by default. The OpenTelemetry SDK is
 * imported only when an endpoint is set, so an operator without tracing never loads it (idle
 * memory matters more than a few milliseconds of start-up).
 */
import { Data, Effect, Layer } from "effect"

export interface TracingOptions {
  /** OTLP/HTTP base URL; spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string
  readonly serviceVersion: string
  /** Per export request. Default 10 s. The exporter retries 429/502/503/504 itself, with backoff, up to 5 times. */
  readonly exportTimeoutMillis?: number
}

export class TracingUnavailable extends Data.TaggedError("TracingUnavailable")<{ readonly message: string; readonly cause?: unknown }> {}

export const serviceName = "vworkspace-operator"

/** The span names, shared by the code that opens them and the tests that count them. */
export const SpanNames = { reconcile: "reconcile", pullJob: "pull-job" } as const

const tracesUrl = (endpoint: string): string => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/**
 * Installs the OpenTelemetry tracer for everything the Layer is provided to. Closing the Layer's
 * scope flushes the spans still batched.
 */
export const tracingLayer = (options: TracingOptions): Layer.Layer<never, TracingUnavailable> =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: async () => {
        const [{ layer }, { BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
          import("@effect/opentelemetry/NodeSdk"),
          import("@opentelemetry/sdk-trace-base"),
          import("@opentelemetry/exporter-trace-otlp-http")
        ])
        const exporter = new OTLPTraceExporter({ url: tracesUrl(options.endpoint), timeoutMillis: options.exportTimeoutMillis ?? 10_000 })
        return Layer.discard(
          layer(() => ({
            resource: { serviceName, serviceVersion: options.serviceVersion },
            spanProcessor: new BatchSpanProcessor(exporter)
          }))
        )
      },
      catch: (cause) => new TracingUnavailable({ message: `cannot load OpenTelemetry: ${String(cause)}`, cause })
    })
  )
