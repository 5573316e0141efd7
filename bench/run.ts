#!/usr/bin/env bun
/**
 * `bun run bench [-- flags]`: MC's benchmark, run by hand (never in CI or the test suite).
 * Starts real MC server and worker processes against the machine's Postgres and Redis, each part
 * on a fresh database (dropped after) and a Redis key prefix of its own; prints a markdown table
 * and writes bench/results/<stamp>.json. See docs/ops/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { runGrowthPart } from './parts/growth.ts';
import { runHopsPart } from './parts/hops.ts';
import { runMcPart } from './parts/mc.ts';
import { runProfilePart } from './parts/profile.ts';
import { runPublishedPart } from './parts/published.ts';
import { bullmqOneTask } from './peers/bullmq.ts';
import { bullmqFlowDiamond } from './peers/flow.ts';
import { graphilePeers } from './peers/graphile.ts';
import { pgBossPeers } from './peers/pgboss.ts';
import { calibrate } from './calibration.ts';
import { adminDatabaseUrl, benchRedisUrl, checkpoint } from './pg-admin.ts';
import { toMarkdown, type BenchResults, type MachineInfo } from './report.ts';
import type { BenchSettings } from './settings.ts';
import { recentDeletionMs, removeStackDirs, stackDirs } from './stack-files.ts';

const parts = ['mc', 'peers', 'published', 'growth', 'profile'] as const;
/** Parts run only when named with `--only`: diagnostics, not figures of the full report. */
const optInParts = ['hops'] as const;
type Part = (typeof parts)[number] | (typeof optInParts)[number];
const allParts: readonly Part[] = [...parts, ...optInParts];

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'worker-concurrency': { type: 'string', default: '64' },
    'pool-size': { type: 'string', default: '20' },
    'client-concurrency': { type: 'string', default: '32' },
    'max-in-flight': { type: 'string', default: '256' },
    'soak-minutes': { type: 'string' },
    'growth-rows': { type: 'string' },
    'keep-files': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`bun run bench [-- --only mc|peers|published|growth|profile|hops ...] [--quick] [--runs N]
  [--worker-concurrency 64] [--pool-size 20] [--client-concurrency 32] [--max-in-flight 256]
  [--soak-minutes 10] [--growth-rows 1000000] [--keep-files]
  --keep-files: leave the stacks' files (receipts, logs) in place; deleting them slows file
    creation for minutes after (docs/ops/benchmarks.md), so back-to-back runs keep them
  hops: not in the full run; publish→start at 250/s hop by hop, and its p95 second by second
`);
  process.exit(0);
}

const positive = (name: string, v: string | undefined, def: number): number => {
  const n = v === undefined ? def : Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name}: expected a positive number, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const quick = values.quick ?? false;
const settings: BenchSettings = {
  quick,
  runs: Math.max(3, positive('runs', values.runs, 3)),
  workerConcurrency: positive('worker-concurrency', values['worker-concurrency'], 64),
  poolSize: positive('pool-size', values['pool-size'], 20),
  clientConcurrency: positive('client-concurrency', values['client-concurrency'], 32),
  maxInFlight: positive('max-in-flight', values['max-in-flight'], 256),
  soakMinutes: positive('soak-minutes', values['soak-minutes'], quick ? 1 : 10),
  growthRows: positive('growth-rows', values['growth-rows'], quick ? 100_000 : 1_000_000),
};
const only = (values.only ?? []).flatMap((v) => v.split(','));
for (const o of only) {
  if (!allParts.includes(o as Part)) {
    process.stderr.write(`--only: unknown part "${o}"; one of ${allParts.join(', ')}\n`);
    process.exit(2);
  }
}
const selected = new Set<Part>(only.length > 0 ? (only as Part[]) : parts);

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

const results: BenchResults = {
  startedAt: new Date().toISOString(),
  command: `bun run bench${Bun.argv.length > 2 ? ` -- ${Bun.argv.slice(2).join(' ')}` : ''}`,
  settings,
  machine: await machineInfo(),
};
const deletedMsAgo = recentDeletionMs();
if (deletedMsAgo !== null) {
  results.machine.filesDeletedSecondsBefore = Math.round(deletedMsAgo / 1000);
  log(`an earlier bench run deleted its files ${Math.round(deletedMsAgo / 1000)} s ago: file creation (each receipt) is slower for up to 6 minutes after (docs/ops/benchmarks.md)`);
}

log('calibrating the machine (loopback round trips, fixed CPU work)');
results.machine.calibration = await calibrate();

const resultsDir = join(import.meta.dir, 'results');
mkdirSync(resultsDir, { recursive: true });
const outFile = join(resultsDir, `${stamp}.json`);
const save = () => writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);

const failures: string[] = [];
/** Runs one part; a failure is logged and recorded, and the other parts still run. */
async function part(name: Part, title: string, body: () => Promise<void>) {
  if (!selected.has(name)) return;
  log(title);
  try {
    await checkpoint();
    await body();
  } catch (e) {
    failures.push(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    log(`${name} failed: ${String(e)}`);
  }
  save();
}

await part('mc', 'part 1: MC end to end', async () => {
  results.mc = await runMcPart(settings, log);
});
await part('peers', 'part 2: peers', async () => {
  results.peers = [await bullmqOneTask(settings, log), await bullmqFlowDiamond(settings, log), ...(await graphilePeers(settings, log)), ...(await pgBossPeers(settings, log))];
});
await part('published', 'part 3: the published orchestrator workload', async () => {
  results.published = await runPublishedPart(settings, log);
});
await part('growth', 'part 4: growth', async () => {
  results.growth = await runGrowthPart(settings, log);
});
await part('profile', 'part 5: per-execution cost and CPU profiles', async () => {
  results.profile = await runProfilePart(settings, stamp, log);
});
await part('hops', 'part 6: publish→start hop by hop', async () => {
  results.hops = await runHopsPart(settings, log);
});
results.finishedAt = new Date().toISOString();
results.machine.loadAvgEnd = loadavg();
(results as { failures?: string[] }).failures = failures;
save();
process.stdout.write(`${toMarkdown(results)}\n`);
log(`results: ${outFile}`);
if (values['keep-files']) log(`kept the stacks' files: ${stackDirs().join(' ')}`);
else removeStackDirs();
for (const f of failures) process.stderr.write(`FAILED ${f}\n`);
process.exit(failures.length > 0 ? 1 : 0);

async function machineInfo(): Promise<MachineInfo> {
  const sql = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} });
  const [pg] = await sql<{ version: string }[]>`select version()`;
  const [vacuum] = await sql<{ autovacuum: string }[]>`show autovacuum`;
  await sql.end();
  const redis = new Redis(benchRedisUrl, { maxRetriesPerRequest: 1 });
  const info = await redis.info('server');
  redis.disconnect();
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    kernel: `Linux ${release()}`,
    bun: Bun.version,
    postgres: (pg?.version ?? 'unknown').split(' on ')[0]!,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    loadAvgStart: loadavg(),
    autovacuum: vacuum?.autovacuum === 'on',
  };
}
