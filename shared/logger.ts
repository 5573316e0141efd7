import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { redact } from './redaction.ts';

/**
 * Errors keep type, message, code and stack, but never the bound parameters a failed query
 * carries (drizzle puts them in the message and on the error): those are execution inputs.
 */
function serializeError(err: unknown): unknown {
  const base = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  const { params: _params, query: _query, ...rest } = base;
  const strip = (v: unknown) => (typeof v === 'string' ? v.replace(/\nparams: [^\n]*/g, '\nparams: [omitted]') : v);
  return { ...rest, message: strip(rest.message), stack: strip(rest.stack) };
}

/**
 * JSON-lines logger for server and worker. Every object logged passes through the redaction
 * library first, so a secret or PII value that slips into a log call is masked, not written.
 */
export function createLogger(opts: { level: string; name: string; file?: string | undefined }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        log: (object) => redact(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message string too: `log.info('user %s', email)` would bypass the object formatter.
          const redacted = args.map((a) => (typeof a === 'string' ? String(redact(a)) : a));
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
      serializers: { err: serializeError },
      // Spec §5 log keys: a line logged inside a span (a request, a task) carries its ids.
      mixin: () => {
        const c = trace.getActiveSpan()?.spanContext();
        return c && trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
      },
    },
    // stdout by default; LOG_FILE appends JSON lines to a file instead (synchronously: a crash loses none).
    opts.file ? pino.destination({ dest: opts.file, sync: true, mkdir: true }) : undefined,
  );
}
