import { sql } from 'drizzle-orm';
import type { Deps } from './deps.ts';

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Refuses to start on settings that lose work or open the door: BullMQ needs Redis to never evict
 * keys, acknowledged writes need synchronous commit, and anonymous access only ever on loopback.
 * `MC_ALLOW_UNSAFE_BACKENDS=true` lets a developer run anyway (never in production).
 */
export async function startupProblems(deps: Pick<Deps, 'config' | 'db' | 'redis'>): Promise<string[]> {
  const problems: string[] = [];
  if (deps.config.MC_ANONYMOUS_ROLE && !loopbackHosts.has(deps.config.HOST)) {
    problems.push(`MC_ANONYMOUS_ROLE is set while HOST=${deps.config.HOST} is not loopback: anyone on the network would act as ${deps.config.MC_ANONYMOUS_ROLE}`);
  }
  if (deps.config.MC_ALLOW_UNSAFE_BACKENDS) return problems;
  if (deps.redis.status !== 'ready') {
    problems.push('Redis is not reachable, so its maxmemory-policy cannot be checked (or set MC_ALLOW_UNSAFE_BACKENDS=true for development)');
    return problems;
  }
  const policy = (await deps.redis.config('GET', 'maxmemory-policy')) as string[];
  if (policy[1] && policy[1] !== 'noeviction') problems.push(`Redis maxmemory-policy is ${policy[1]}; queues need noeviction (or set MC_ALLOW_UNSAFE_BACKENDS=true for development)`);
  const [row] = await deps.db.execute<{ synchronous_commit: string }>(sql`show synchronous_commit`);
  if (row?.synchronous_commit === 'off') problems.push('Postgres runs with synchronous_commit=off: acknowledged work could be lost (or set MC_ALLOW_UNSAFE_BACKENDS=true for development)');
  return problems;
}
