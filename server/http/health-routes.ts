import { Elysia } from 'elysia';
import type { Deps } from '../deps.ts';

const checkTimeoutMs = 2_000;

async function check(name: string, probe: () => Promise<unknown>): Promise<[string, string]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${checkTimeoutMs} ms`)), checkTimeoutMs);
      }),
    ]);
    return [name, 'ok'];
  } catch (e) {
    return [name, e instanceof Error ? e.message : String(e)];
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process is up. `/readyz`: it can serve — database, Redis and object store all answer. */
export function healthRoutes(deps: Deps) {
  return new Elysia({ name: 'mc-health' })
    .get('/healthz', () => ({ status: 'ok' }))
    .get('/readyz', async ({ set }) => {
      const checks = Object.fromEntries(
        await Promise.all([
          check('database', () => deps.db.execute('select 1')),
          check('redis', () => deps.redis.ping()),
          check('objectStore', () => deps.objectStore.ping()),
        ]),
      );
      const ready = Object.values(checks).every((v) => v === 'ok');
      set.status = ready ? 200 : 503;
      if (!ready) set.headers['retry-after'] = '5';
      return { status: ready ? 'ready' : 'unavailable', checks };
    });
}
