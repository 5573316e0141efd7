import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@mc/server/trpc/app-router';
import { fromServerError, toCliError } from './cli-errors.ts';
import type { Target } from './config-store.ts';

/**
 * The CLI's way to the server: the typed tRPC client (same AppRouter type as the dashboard) and,
 * for the two binary/plain REST paths (disclosure pack, public keys), a fetch with the same
 * headers. Every request carries `Authorization: Bearer <token>` when the profile has one and is
 * bounded by a timeout (MC_TIMEOUT_MS, default 30 s), so a hung server ends as exit 4, not a hang.
 */

export interface ApiClient {
  server: string;
  /** Per-request timeout; a server-side wait (receipts.get waitMs) must stay below it. */
  timeoutMs: number;
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
  /** Runs a call and turns any failure into a CliError with its exit code. */
  call<T>(fn: (trpc: ApiClient['trpc']) => Promise<T>): Promise<T>;
  /** GET a REST path; the body on 2xx, a CliError otherwise. */
  getBytes(path: string): Promise<{ bytes: Uint8Array; headers: Headers }>;
}

export function headersFor(token: string | undefined): Record<string, string> {
  return { 'user-agent': 'mc-cli', ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

export function createApiClient(target: Target, env: Record<string, string | undefined>): ApiClient {
  const timeoutMs = Number(env.MC_TIMEOUT_MS ?? 30_000) || 30_000;
  const boundedFetch = (url: URL | RequestInfo, init?: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${target.server}/trpc`,
        transformer: superjson,
        headers: () => headersFor(target.token),
        fetch: boundedFetch as typeof fetch,
      }),
    ],
  });
  return {
    server: target.server,
    timeoutMs,
    trpc,
    async call(fn) {
      try {
        return await fn(trpc);
      } catch (e) {
        throw toCliError(e, target.server);
      }
    },
    async getBytes(path) {
      let res: Response;
      try {
        res = await boundedFetch(`${target.server}${path}`, { headers: headersFor(target.token) });
      } catch (e) {
        throw toCliError(e, target.server);
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.ok) return { bytes, headers: res.headers };
      let body: { error?: { code?: string; message?: string; issues?: { path: string; message: string }[]; details?: Record<string, unknown> } } = {};
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        body = {};
      }
      const err = body.error;
      throw fromServerError(err?.code, err?.message ?? `HTTP ${res.status} from ${target.server}${path}`, err?.issues ?? [], err?.details ?? {}, res.status);
    },
  };
}

export function isTrpcError(e: unknown): e is TRPCClientError<AppRouter> {
  return e instanceof TRPCClientError;
}
