import { checkOutboundUrl, OutboundRefusedError, type CheckedTarget, type Resolver } from './outbound-guard.ts';
import { NonRetryableTaskError, type TaskRunContext } from './task-context.ts';

interface HttpInput {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: unknown;
}

const maxBodyBytes = 64 * 1024;
export const maxRedirects = 5;
const followedStatuses = new Set([301, 302, 303, 307, 308]);

export interface HttpTaskOptions {
  /** DNS for the outbound guard; tests inject answers they control. */
  resolve?: Resolver;
  /** Defaults to Bun's fetch; tests inject one to prove no connection was attempted. */
  fetch?: (url: URL, init: RequestInit & { proxy?: false; tls?: { serverName?: string } }) => Promise<Response>;
}

/**
 * An HTTP call to an allow-listed host (`MC_HTTP_ALLOWED_HOSTS`, `host` or `host:port`), through
 * the outbound guard (`outbound-guard.ts`): every hop is checked before any connection is made,
 * and the connection goes to the checked IP (the `Host` header and TLS server name carry the
 * name), so DNS cannot answer differently between the check and the connect. Up to 5 redirects
 * are followed, each target checked by the same guard. The task's idempotency key goes out as
 * `Idempotency-Key` on every hop, so a receiver that honours it acts once however often we retry.
 */
export function createHttpTask(opts: HttpTaskOptions = {}) {
  const doFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  return async function http(ctx: TaskRunContext<HttpInput>): Promise<unknown> {
    const guard = { allowedHosts: ctx.config.MC_HTTP_ALLOWED_HOSTS, ...(opts.resolve ? { resolve: opts.resolve } : {}) };
    let method: string = ctx.input.method;
    let body = ctx.input.body !== undefined && method !== 'GET' ? JSON.stringify(ctx.input.body) : undefined;
    // Caller headers may carry credentials (`${{ secrets.X }}`): they go to the first origin only.
    let callerHeaders: Record<string, string> = ctx.input.headers ?? {};
    let target = await checkOutboundUrl(ctx.input.url, guard);

    for (let hop = 0; ; hop++) {
      const response = await send(target, method, callerHeaders, body);
      const shown = `${target.url.origin}${target.url.pathname}`;
      await ctx.log(response.status < 400 ? 'info' : 'warn', `${method} ${shown} -> ${response.status}`);

      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!followedStatuses.has(response.status) || location === null) {
          throw new NonRetryableTaskError(`HTTP ${response.status} from ${shown} is not a redirect MC follows`);
        }
        if (hop >= maxRedirects) throw new NonRetryableTaskError(`too many redirects (more than ${maxRedirects}), last to ${describe(location, target.url)}`);
        const next = await checkRedirect(location, target.url);
        if (next.url.origin !== target.url.origin) callerHeaders = {};
        // As browsers do (Fetch spec, HTTP redirect fetch step 12): 303, and 301/302 after a POST, become a GET without a body.
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        target = next;
        continue;
      }

      const text = await readBounded(response);
      if (response.status >= 400 && response.status < 500 && response.status !== 429 && response.status !== 408) {
        throw new NonRetryableTaskError(`HTTP ${response.status}`);
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      let parsed: unknown = text;
      if (response.headers.get('content-type')?.includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text; // a truncated or malformed JSON body is still returned, as text
        }
      }
      return { status: response.status, body: parsed };
    }

    async function checkRedirect(location: string, from: URL): Promise<CheckedTarget> {
      let next: URL;
      try {
        next = new URL(location, from);
      } catch {
        throw new NonRetryableTaskError(`redirect to "${location}" refused: not a valid URL`);
      }
      try {
        return await checkOutboundUrl(next, guard);
      } catch (e) {
        if (e instanceof OutboundRefusedError) throw new OutboundRefusedError(`redirect to ${describe(location, from)} refused: ${e.message.replace(/^outbound request refused: /, '')}`);
        throw e;
      }
    }

    function send(t: CheckedTarget, m: string, headers: Record<string, string>, b: string | undefined): Promise<Response> {
      const h = new Headers(headers);
      if (b !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
      // Set last so a caller's `Host` cannot point the request at a name other than the checked one.
      h.set('host', t.hostHeader);
      h.set('idempotency-key', ctx.idempotencyKey);
      return doFetch(t.connectUrl, {
        method: m,
        redirect: 'manual',
        signal: ctx.signal,
        headers: h,
        // A proxy from the environment would resolve the name itself and undo the pinning.
        proxy: false,
        ...(t.serverName ? { tls: { serverName: t.serverName } } : {}),
        ...(b !== undefined ? { body: b } : {}),
      });
    }
  };
}

export const http = createHttpTask();

/** A redirect target for messages: scheme, host and path; no credentials, query or fragment. */
function describe(location: string, base: URL): string {
  try {
    const u = new URL(location, base);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return JSON.stringify(location);
  }
}

/** The body as text, at most 64 KiB: a huge response must not fill the worker's memory. */
async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < maxBodyBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (size >= maxBodyBytes) await reader.cancel();
  const all = new Uint8Array(Math.min(size, maxBodyBytes));
  let offset = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.byteLength - offset);
    all.set(part, offset);
    offset += part.byteLength;
    if (offset >= all.byteLength) break;
  }
  return new TextDecoder().decode(all);
}
