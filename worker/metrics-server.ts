import type { Deps } from '@mc/server/deps';
import { metricsContentType, renderMetrics } from '@mc/server/observability/scrape';

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * The worker's own scrape endpoint (WORKER_METRICS_PORT, default 9464; 0 disables): `/metrics`
 * (the same registry module as the server's, with the worker's series) and `/healthz`.
 * Bound to HOST like the server.
 */
export function startWorkerMetricsServer(deps: Pick<Deps, 'queues' | 'config' | 'db' | 'logger'>, port = deps.config.WORKER_METRICS_PORT): MetricsServer | null {
  if (port === 0) return null;
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = serve();
  } catch (err) {
    // A busy port must not take the worker down with it: it runs tasks without a scrape endpoint.
    deps.logger.error({ err, port }, 'worker metrics port unavailable; serving no /metrics (set WORKER_METRICS_PORT per worker, or 0)');
    return null;
  }
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };

  function serve() {
    return Bun.serve({
    hostname: deps.config.HOST,
    port,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (request.method !== 'GET') return new Response('method not allowed\n', { status: 405 });
      if (pathname === '/metrics') return new Response(await renderMetrics(deps), { headers: { 'content-type': metricsContentType } });
      if (pathname === '/healthz') return Response.json({ ok: true });
      return new Response('not found\n', { status: 404 });
    },
    });
  }
}
