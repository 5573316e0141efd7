import { randomBytes } from 'node:crypto';

/** W3C Trace Context (`traceparent`): the trace id travels from the HTTP request into jobs and receipts. */
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  traceId: string;
  parentSpanId: string;
  sampled: boolean;
  traceparent: string;
}

export function parseTraceparent(header: string | null | undefined): TraceContext | null {
  const m = header ? traceparentPattern.exec(header.trim().toLowerCase()) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return null;
  return { traceId: m[1]!, parentSpanId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1, traceparent: m[0] };
}

/** Continue the caller's trace, or start one. */
export function traceContextFrom(header: string | null | undefined): TraceContext {
  const parsed = parseTraceparent(header);
  if (parsed) return parsed;
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  return { traceId, parentSpanId, sampled: false, traceparent: `00-${traceId}-${parentSpanId}-00` };
}
