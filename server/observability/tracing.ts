import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { traceExportFailuresTotal } from './metrics.ts';
import { SamplingDecision, TracerProvider, type ReadableSpan, type Sampler, type SamplingResult, type Span as SdkSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * OpenTelemetry tracing for server and worker (spec §5: W3C traceparent, propagated through the
 * runners; 10% sampled by default, 100% of traces that error).
 *
 * Sampling is decided at the tail, per process: every span is recorded and buffered by trace id;
 * when the trace's local root span in this process ends (the request span in the server, a task
 * span in a worker), the buffered spans are exported if the trace was head-sampled (the incoming
 * `traceparent` said so, or the trace id falls in `MC_TRACE_SAMPLE_RATIO` — a pure function of the
 * trace id, so server and workers agree) or if any of them ended with an error. The limitation:
 * the error decision is per process — a task that fails keeps the worker's spans of that trace,
 * but the server's request span for it was already dropped when the request ended.
 *
 * No exporter unless OTEL_EXPORTER_OTLP_ENDPOINT is set (then OTLP/HTTP to `<endpoint>/v1/traces`):
 * without one, spans still get ids (for logs, job payloads and receipts) and nothing leaves.
 */

const w3c = new W3CTraceContextPropagator();
const maxBufferedTraces = 5_000;
const maxSpansPerTrace = 512;
const maxRememberedDecisions = 10_000;

/** Keeps a trace when the id's last 8 hex digits fall under the ratio: the same answer in every process. */
export function ratioKeeps(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return parseInt(traceId.slice(-8), 16) < ratio * 0x1_0000_0000;
}

class HeadSampler implements Sampler {
  constructor(public ratio: number) {}
  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    const sampled = (parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) || ratioKeeps(traceId, this.ratio);
    // RECORD, never DROP: an unsampled trace is still recorded, in case it errors.
    return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.RECORD };
  }
  toString() {
    return `McHeadSampler{${this.ratio}}`;
  }
}

const isLocalRoot = (span: Pick<ReadableSpan, 'parentSpanContext'>) => !span.parentSpanContext || span.parentSpanContext.isRemote === true;

interface TraceBuffer {
  spans: ReadableSpan[];
  openRoots: number;
  keep: boolean;
}

/** The tail decision (see the module comment). Exports to whatever exporter is current. */
export class TailSamplingProcessor implements SpanProcessor {
  private readonly buffers = new Map<string, TraceBuffer>();
  private readonly decided = new Map<string, boolean>();
  exporter: SpanExporter | null = null;

  onStart(span: SdkSpan, _parent: Context): void {
    // No exporter (the default): nothing to decide, nothing buffered.
    if (!this.exporter || !isLocalRoot(span)) return;
    const traceId = span.spanContext().traceId;
    const buffer = this.buffers.get(traceId) ?? { spans: [], openRoots: 0, keep: false };
    buffer.openRoots++;
    this.buffers.set(traceId, buffer);
    while (this.buffers.size > maxBufferedTraces) this.buffers.delete(this.buffers.keys().next().value as string);
  }

  onEnd(span: ReadableSpan): void {
    if (!this.exporter) return;
    const ctx = span.spanContext();
    const keep = (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED || span.status.code === SpanStatusCode.ERROR;
    const buffer = this.buffers.get(ctx.traceId);
    if (!buffer) {
      // A span ending after its local root: follow the decision already made (or its own).
      if (keep || this.decided.get(ctx.traceId)) this.export([span]);
      return;
    }
    if (buffer.spans.length < maxSpansPerTrace) buffer.spans.push(span);
    buffer.keep ||= keep;
    if (isLocalRoot(span) && --buffer.openRoots <= 0) {
      this.buffers.delete(ctx.traceId);
      this.decided.set(ctx.traceId, buffer.keep);
      while (this.decided.size > maxRememberedDecisions) this.decided.delete(this.decided.keys().next().value as string);
      if (buffer.keep) this.export(buffer.spans);
    }
  }

  private export(spans: ReadableSpan[]): void {
    this.exporter?.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) traceExportFailuresTotal.inc(spans.length);
    });
  }

  async forceFlush(): Promise<void> {
    await this.exporter?.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.exporter?.shutdown();
  }
}

interface TracingState {
  provider: TracerProvider;
  tracer: Tracer;
  sampler: HeadSampler;
  processor: TailSamplingProcessor;
}
let state: TracingState | null = null;

/**
 * Sets up tracing once per process (idempotent: a later call updates the ratio and exporter, which
 * tests use). Called by createDeps, so server, worker and tests all have a real tracer.
 */
export function initTracing(opts: { serviceName: string; sampleRatio: number; otlpEndpoint?: string | undefined }): void {
  if (!state) {
    const sampler = new HeadSampler(opts.sampleRatio);
    const processor = new TailSamplingProcessor();
    const provider = new TracerProvider({ sampler, spanProcessors: [processor], resource: resourceFromAttributes({ 'service.name': opts.serviceName }) });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    state = { provider, tracer: provider.getTracer('maestro-conductor'), sampler, processor };
  }
  state.sampler.ratio = opts.sampleRatio;
  if (opts.otlpEndpoint) state.processor.exporter = new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` });
}

/** Tests: send kept spans to `exporter` (e.g. an InMemorySpanExporter). */
export function setSpanExporter(exporter: SpanExporter | null): void {
  if (!state) throw new Error('initTracing first');
  state.processor.exporter = exporter;
}

export function tracer(): Tracer {
  return state?.tracer ?? trace.getTracer('maestro-conductor');
}

/** The context a `traceparent` header or job field continues (the root context when absent or malformed). */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent }, { get: (c, k) => (c as Record<string, string>)[k], keys: (c) => Object.keys(c as object) });
}

export function traceparentOf(span: Pick<Span, 'spanContext'>): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The log keys of spec §5 for a span. */
export function traceLogKeys(span: Pick<Span, 'spanContext'> | SpanContext | undefined): { trace_id?: string; span_id?: string } {
  if (!span) return {};
  const c = 'spanContext' in span && typeof span.spanContext === 'function' ? span.spanContext() : (span as SpanContext);
  return trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}

export { SpanKind, SpanStatusCode, context, trace };
