import type postgres from 'postgres';
import { percentile } from './stats.ts';

/**
 * A latency run's p95 publish→start second by second, each second marked `V` (vacuum) or `A`
 * (analyze) when maintenance of MC's tables ran in it: a run's p95 over 15 s is decided by its
 * worst 5 % of executions, so one slow second or two can make it, and this says which seconds
 * and whether the vacuum stand-in (or an autovacuum) was busy then.
 */
export interface SecondsProbe {
  /** Ends the sampling; returns one entry per second of executions created since the probe began: `<p95 ms>[V][A]`. */
  stop(sql: postgres.Sql, ids: readonly string[]): Promise<string[]>;
}

/** Starts sampling `pg_stat_activity` every 100 ms (on `monitor`, one connection to MC's database). */
export function startSecondsProbe(monitor: postgres.Sql): SecondsProbe {
  const t0 = Date.now();
  const maintenance = sampleMaintenance(monitor, t0);
  return {
    async stop(sql, ids) {
      const marks = await maintenance.stop();
      const rows = await sql<{ created: number; started: number }[]>`
        select extract(epoch from created_at) * 1000 as created, extract(epoch from started_at) * 1000 as started
        from executions where id = any(${`{${ids.join(',')}}`}::uuid[]) and started_at is not null`;
      const bySecond = new Map<number, number[]>();
      for (const row of rows) {
        const second = Math.floor((Number(row.created) - t0) / 1000);
        const inSecond = bySecond.get(second) ?? [];
        inSecond.push(Number(row.started) - Number(row.created));
        bySecond.set(second, inSecond);
      }
      return [...bySecond.keys()].sort((a, b) => a - b).map((sec) => `${Math.round(percentile(bySecond.get(sec)!, 95))}${marks.get(sec) ?? ''}`);
    },
  };
}

/** The seconds (since `t0`) in which a vacuum or an analyze of this database was running. */
function sampleMaintenance(sql: postgres.Sql, t0: number): { stop(): Promise<Map<number, string>> } {
  const marks = new Map<number, Set<string>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await sql<{ query: string }[]>`
        select query from pg_stat_activity
        where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
          and (query ilike 'vacuum%' or query ilike 'analyze%' or backend_type = 'autovacuum worker')`;
      const second = Math.floor((Date.now() - t0) / 1000);
      for (const r of rows) {
        const set = marks.get(second) ?? new Set<string>();
        set.add(/^\s*analyze/i.test(r.query) ? 'A' : 'V');
        marks.set(second, set);
      }
      await Bun.sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return new Map([...marks].map(([sec, set]) => [sec, [...set].sort().reverse().join('')]));
    },
  };
}
