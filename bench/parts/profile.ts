import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closedLoop } from '../load.ts';
import { startMcStack, type McStack } from '../mc-stack.ts';
import { benchRedisUrl } from '../pg-admin.ts';
import { receiptCount, ReceiptTracker } from '../receipts-wait.ts';
import type { BenchSettings } from '../settings.ts';
import { round } from '../stats.ts';
import { diamond, oneTask } from '../workloads.ts';

/**
 * Where an execution's cost goes: per execution, the SQL statements each process sends (counted
 * at the wire, bench/pg-query-counter.ts), Postgres transactions and rows written per table
 * (pg_stat_database, pg_stat_user_tables of the bench database), Redis commands (INFO
 * commandstats: machine-wide, so others' tests add noise), and CPU time of the server, the
 * worker and the whole machine (/proc). Both processes run under `bun --cpu-prof-md`; the
 * profiles are written to bench/profiles/<stamp>/ when they exit.
 */
export interface ProfileResult {
  workload: string;
  executions: number;
  perSecond: number;
  perExecution: {
    statementsServer: number;
    statementsWorker: number;
    transactions: number;
    rowsInserted: Record<string, number>;
    rowsUpdated: Record<string, number>;
    redisCommands: number;
    topRedisCommands: Record<string, number>;
    cpuMsServer: number;
    cpuMsWorker: number;
    /** All `postgres` processes of the machine (MC's database is the only busy one during the run). */
    cpuMsPostgres: number;
    cpuMsRedis: number;
    cpuMsMachine: number;
  };
  /** Per execution, the statements each process sent most (SQL text, executions per run). */
  topStatements: { server: [string, number][]; worker: [string, number][] };
  /** Postgres backends of MC's database by state and wait event, averaged over samples every 50 ms during the run. */
  waits: Record<string, number>;
  /** Average backends waiting for the audit chain's advisory lock. */
  advisoryLockWaiters: number;
}

export async function runProfilePart(s: BenchSettings, stamp: string, log: (m: string) => void): Promise<{ results: ProfileResult[]; profileDir: string; hotSpots: Record<string, string[]> }> {
  const profileDir = join(new URL('..', import.meta.url).pathname, 'profiles', stamp);
  mkdirSync(profileDir, { recursive: true });
  const stack = await startMcStack({ label: 'profile', workerConcurrency: s.workerConcurrency, poolSize: s.poolSize, cpuProfDir: profileDir, countQueries: true });
  const redis = new Redis(benchRedisUrl, { maxRetriesPerRequest: 3 });
  const results: ProfileResult[] = [];
  try {
    for (const [name, manifest] of [
      ['one-task', oneTask],
      ['diamond', diamond],
    ] as const) {
      const wf = await stack.publish(manifest);
      const warmReceipts = new ReceiptTracker(stack.sql);
      const warm = await closedLoop({ concurrency: 8, maxInFlight: 64, warmupMs: 0, windowMs: 2_000, windows: 1, submit: async () => warmReceipts.track(await stack.start(wf)), completed: () => warmReceipts.completed() });
      void warm;
      await stack.maintainNow();
      await Bun.sleep(1_500); // let Postgres flush its statistics
      stack.queryCounters?.server.reset();
      stack.queryCounters?.worker.reset();
      const before = await snapshot(stack, redis);
      const started = await receiptCount(stack.sql);
      const waits: Record<string, number> = {};
      let samples = 0;
      let lockWaiters = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const rows = await stack.sql<{ w: string; n: number; locks: number }[]>`
            select coalesce(state, '?') || ':' || coalesce(wait_event_type || '/' || wait_event, 'on CPU') as w, count(*)::int as n,
                   (select count(*)::int from pg_locks l where l.locktype = 'advisory' and not l.granted and l.database = (select oid from pg_database where datname = current_database())) as locks
            from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by 1`;
          samples++;
          for (const row of rows) waits[row.w] = (waits[row.w] ?? 0) + row.n;
          lockWaiters += rows[0]?.locks ?? 0;
          await Bun.sleep(50);
        }
      })();
      const t0 = performance.now();
      const receipts = new ReceiptTracker(stack.sql);
      await closedLoop({
        concurrency: s.clientConcurrency,
        maxInFlight: s.maxInFlight,
        warmupMs: 0,
        windowMs: s.quick ? 6_000 : 15_000,
        windows: 1,
        submit: async () => receipts.track(await stack.start(wf)),
        completed: () => receipts.completed(),
      });
      const seconds = (performance.now() - t0) / 1000;
      sampling = false;
      await sampler;
      await Bun.sleep(1_500);
      const after = await snapshot(stack, redis);
      const n = (await receiptCount(stack.sql)) - started;
      const per = (a: number, b: number) => round((a - b) / n, 2);
      const diffMap = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
        Object.fromEntries(
          Object.entries(a)
            .map(([k, v]): [string, number] => [k, per(v, b[k] ?? 0)])
            .filter(([, v]) => v > 0)
            .sort((x, y) => y[1] - x[1]),
        );
      const redisDiff = diffMap(after.redis, before.redis);
      const top = (c: { breakdown(): [string, number][] } | undefined): [string, number][] => (c?.breakdown() ?? []).slice(0, 25).map(([q, k]) => [q, round(k / n, 2)]);
      const r: ProfileResult = {
        waits: Object.fromEntries(Object.entries(waits).map(([k, v]): [string, number] => [k, round(v / samples, 2)]).sort((a, b) => b[1] - a[1])),
        advisoryLockWaiters: round(lockWaiters / samples, 2),
        topStatements: { server: top(stack.queryCounters?.server), worker: top(stack.queryCounters?.worker) },
        workload: name,
        executions: n,
        perSecond: round(n / seconds),
        perExecution: {
          statementsServer: per(after.statementsServer, before.statementsServer),
          statementsWorker: per(after.statementsWorker, before.statementsWorker),
          transactions: per(after.xacts, before.xacts),
          rowsInserted: diffMap(after.ins, before.ins),
          rowsUpdated: diffMap(after.upd, before.upd),
          redisCommands: round(Object.values(redisDiff).reduce((a, v) => a + v, 0), 1),
          topRedisCommands: Object.fromEntries(Object.entries(redisDiff).slice(0, 8)),
          cpuMsServer: per(after.cpuServer, before.cpuServer),
          cpuMsWorker: per(after.cpuWorker, before.cpuWorker),
          cpuMsPostgres: per(after.cpuPostgres, before.cpuPostgres),
          cpuMsRedis: per(after.cpuRedis, before.cpuRedis),
          cpuMsMachine: per(after.cpuMachine, before.cpuMachine),
        },
      };
      log(`profile ${name}: ${n} executions, ${r.perExecution.statementsServer} + ${r.perExecution.statementsWorker} statements, ${r.perExecution.transactions} transactions, cpu ms server ${r.perExecution.cpuMsServer} worker ${r.perExecution.cpuMsWorker} postgres ${r.perExecution.cpuMsPostgres} redis ${r.perExecution.cpuMsRedis} machine ${r.perExecution.cpuMsMachine}`);
      results.push(r);
    }
  } finally {
    redis.disconnect();
    await stack.stop();
  }
  const hotSpots: Record<string, string[]> = {};
  for (const proc of ['server', 'worker']) {
    try {
      hotSpots[proc] = readFileSync(join(profileDir, `${proc}.md`), 'utf8').split('\n').slice(0, 60);
    } catch (e) {
      hotSpots[proc] = [`(no profile: ${String(e)})`];
    }
  }
  return { results, profileDir, hotSpots };
}

async function snapshot(stack: McStack, redis: Redis) {
  const [db] = await stack.sql<{ xacts: string }[]>`select xact_commit + xact_rollback as xacts from pg_stat_database where datname = current_database()`;
  const tables = await stack.sql<{ relname: string; ins: string; upd: string }[]>`select relname, n_tup_ins as ins, n_tup_upd as upd from pg_stat_user_tables`;
  const info = await redis.info('commandstats');
  const redisCounts: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) redisCounts[m[1]!] = Number(m[2]);
  return {
    statementsServer: stack.queryCounters?.server.counts().statements ?? 0,
    statementsWorker: stack.queryCounters?.worker.counts().statements ?? 0,
    xacts: Number(db?.xacts ?? 0),
    ins: Object.fromEntries(tables.map((t) => [t.relname, Number(t.ins)])),
    upd: Object.fromEntries(tables.map((t) => [t.relname, Number(t.upd)])),
    redis: redisCounts,
    cpuServer: cpuMs(stack.server.pid),
    cpuWorker: cpuMs(stack.worker.pid),
    cpuPostgres: cpuMsOf('postgres'),
    cpuRedis: cpuMsOf('redis-server'),
    cpuMachine: machineCpuMs(),
  };
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/**
 * utime + stime of every process whose name starts with `name`, in ms. A backend that exits
 * between two snapshots takes its time with it: MC's pools keep theirs for the whole run.
 */
function cpuMsOf(name: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith(name)) total += cpuMs(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** Busy CPU time of the whole machine (all cores), in ms. */
function machineCpuMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / 100;
}
