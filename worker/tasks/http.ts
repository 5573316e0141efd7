import { NonRetryableTaskError, type TaskRunContext } from './task-context.ts';

interface HttpInput {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: unknown;
}

const maxBodyChars = 64 * 1024;

/**
 * An HTTP call to an allow-listed host (`MC_HTTP_ALLOWED_HOSTS`, `host` or `host:port`). Redirects
 * are not followed: a redirect could lead off the allow-list. The task's idempotency key goes
 * out as `Idempotency-Key`, so a receiver that honours it acts once however often we retry.
 */
export async function http(ctx: TaskRunContext<HttpInput>): Promise<unknown> {
  const url = new URL(ctx.input.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NonRetryableTaskError(`only http(s) URLs are allowed, not ${url.protocol}`);
  const allowed = ctx.config.MC_HTTP_ALLOWED_HOSTS;
  if (!allowed.includes(url.host) && !allowed.includes(url.hostname)) {
    throw new NonRetryableTaskError(`host ${url.host} is not in MC_HTTP_ALLOWED_HOSTS`);
  }
  const hasBody = ctx.input.body !== undefined && ctx.input.method !== 'GET';
  const response = await fetch(url, {
    method: ctx.input.method,
    redirect: 'manual',
    signal: ctx.signal,
    headers: {
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...ctx.input.headers,
      'idempotency-key': ctx.idempotencyKey,
    },
    ...(hasBody ? { body: JSON.stringify(ctx.input.body) } : {}),
  });
  const text = (await response.text()).slice(0, maxBodyChars);
  await ctx.log(response.ok ? 'info' : 'warn', `${ctx.input.method} ${url.origin}${url.pathname} -> ${response.status}`);
  if (response.status >= 300 && response.status < 400) throw new NonRetryableTaskError(`redirect to ${response.headers.get('location') ?? '?'} not followed`);
  if (response.status >= 400 && response.status < 500 && response.status !== 429 && response.status !== 408) {
    throw new NonRetryableTaskError(`HTTP ${response.status}`);
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  let body: unknown = text;
  if (response.headers.get('content-type')?.includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, body };
}
