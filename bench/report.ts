import type { GrowthResult } from './parts/growth.ts';
import type { HopsResult } from './parts/hops.ts';
import type { McResults } from './parts/mc.ts';
import type { ProfileResult } from './parts/profile.ts';
import { mcTargetSeconds, publishedBest, type PublishedResult } from './parts/published.ts';
import type { PeerThroughput } from './peers/peer-result.ts';
import type { BenchSettings } from './settings.ts';
import type { Calibration } from './calibration.ts';
import { vacuumStandInIntervalMs } from './mc-stack.ts';
import { round, type Percentiles } from './stats.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  bun: string;
  postgres: string;
  redis: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
  /** The machine's Postgres vacuums by itself; when not, the bench stands in (bench/mc-stack.ts). */
  autovacuum: boolean;
  /** An earlier bench run deleted its files this long before: file creation was slower (bench/stack-files.ts). */
  filesDeletedSecondsBefore?: number;
  /** Measured at the start of the run (bench/calibration.ts). */
  calibration?: Calibration;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  command: string;
  settings: BenchSettings;
  machine: MachineInfo;
  mc?: McResults;
  peers?: PeerThroughput[];
  published?: PublishedResult[];
  growth?: GrowthResult;
  profile?: { results: ProfileResult[]; profileDir: string; hotSpots: Record<string, string[]> };
  hops?: HopsResult;
}

const ms = (x: number) => (Number.isFinite(x) ? `${round(x, x < 10 ? 2 : 1)}` : '—');
const pct = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;

/** The whole result as markdown: what `bun run bench` prints and docs/performance.md quotes. */
export function toMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`# MC benchmark — ${r.startedAt}`, '');
  out.push(`Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB; ${m.kernel}; Bun ${m.bun}; ${m.postgres}; Redis ${m.redis}.`);
  if (m.calibration) {
    const c = m.calibration;
    out.push(
      `Calibration (bench/calibration.ts, this run): a 1-byte round trip between two processes over loopback TCP ${c.loopbackRoundTripUs} µs${c.loopbackRoundTripOneCpuUs === null ? '' : ` (${c.loopbackRoundTripOneCpuUs} µs with both on one CPU)`}; fixed single-threaded CPU work ${c.cpuWorkMs} ms${c.guestHaltPollNs === null ? '' : `; guest halt polling ${c.guestHaltPollNs} ns`}.`,
    );
  }
  if (!m.autovacuum) out.push(`Postgres runs with autovacuum off: the bench ran \`vacuum (analyze)\` on MC's updated tables every ${vacuumStandInIntervalMs / 1000} s and \`analyze\` on its growing ones once a minute, as autovacuum would (bench/mc-stack.ts).`);
  if (m.filesDeletedSecondsBefore !== undefined) {
    out.push(`An earlier bench run deleted its files ${m.filesDeletedSecondsBefore} s before this one started: each receipt is a file, and file creation here is slower for up to 6 minutes after many deletions (bench/stack-files.ts), so MC's figures may be low.`);
  }
  out.push(`Load average at start ${m.loadAvgStart.map((x) => round(x, 2)).join(' ')}${m.loadAvgEnd ? `, at end ${m.loadAvgEnd.map((x) => round(x, 2)).join(' ')}` : ''} (other work on the machine shows here).`);
  const s = r.settings;
  out.push(`Command: \`${r.command}\`; worker concurrency ${s.workerConcurrency}, pool ${s.poolSize}, client concurrency ${s.clientConcurrency}, max in flight ${s.maxInFlight}; every figure is the median of ${s.runs} runs.`, '');

  if (r.mc) {
    const t = r.mc.throughput;
    out.push('## MC end to end (policy, audit, signed stored receipt)', '');
    out.push('| workload | executions/s (median) | windows | start errors |', '| --- | ---: | --- | ---: |');
    out.push(`| 1 task | **${round(t.oneTask.perSecond)}** | ${t.oneTask.windows.map((x) => round(x)).join(', ')} | ${t.oneTask.errors} |`);
    out.push(`| 5-task diamond | **${round(t.diamond.perSecond)}** | ${t.diamond.windows.map((x) => round(x)).join(', ')} | ${t.diamond.errors} |`, '');
    out.push('Latency at fixed arrival rates, ms as p50 / p95 / p99 (publish→start and end to end from Postgres timestamps; API calls from the client):', '');
    out.push('| workload | rate | achieved | publish→start | end to end (receipt) | POST start | GET /executions/:id | GET /executions?limit=50 |', '| --- | --- | ---: | --- | --- | --- | --- | --- |');
    for (const [wl, rows] of [
      ['1 task', r.mc.latency.oneTask],
      ['diamond', r.mc.latency.diamond],
    ] as const) {
      for (const l of rows) out.push(`| ${wl} | ${l.label}: ${l.targetRate}/s | ${round(l.achievedRate)} | ${pct(l.publishToStart)} | ${pct(l.endToEnd)} | ${pct(l.startRequest)} | ${pct(l.getById)} | ${pct(l.list50)} |`);
    }
    const floorRuns = r.mc.latency.oneTask.find((l) => l.targetRate === 250);
    if (floorRuns && floorRuns.seconds.length > 0) {
      out.push('', 'p95 publish→start of each second at 250/s, 1 task (`V` a vacuum, `A` an analyze of MC\'s tables ran in it):', '');
      floorRuns.seconds.forEach((line, i) => out.push(`- run ${i + 1}: ${line.join(' ')}`));
    }
    const sk = r.mc.soak;
    out.push('', `Soak: ${sk.minutes} min at ${sk.rate}/s (1 task), ${sk.completed} of ${sk.started} receipts. VmRSS MB start → max → end: server ${sk.summary.server.startMb} → ${sk.summary.server.maxMb} → ${sk.summary.server.endMb}; worker ${sk.summary.worker.startMb} → ${sk.summary.worker.maxMb} → ${sk.summary.worker.endMb}.`, '');
    const floor = r.mc.latency.oneTask.find((l) => l.targetRate === 250);
    out.push(
      `Floor (≥ 500 executions/s end to end with receipts; p95 publish→start ≤ 50 ms at 250/s): throughput ${round(t.oneTask.perSecond)}/s — ${t.oneTask.perSecond >= 500 ? 'MET' : `NOT MET (${round(t.oneTask.perSecond / 500, 2)}× of the floor)`}; ` +
        (floor ? `p95 publish→start at 250/s ${ms(floor.publishToStart.p95)} ms — ${floor.publishToStart.p95 <= 50 ? 'MET' : 'NOT MET'}.` : 'p95 at 250/s not measurable (MC cannot sustain 250/s here).'),
      '',
    );
  }

  if (r.peers && r.peers.length > 0) {
    out.push('## Peers, same machine, same run, without MC\'s guarantees', '');
    out.push('| peer | workload | per second | MC ÷ peer | how |', '| --- | --- | ---: | ---: | --- |');
    for (const p of r.peers) {
      const mine = r.mc ? (p.workload === 'one-task' ? r.mc.throughput.oneTask.perSecond : r.mc.throughput.diamond.perSecond) : Number.NaN;
      out.push(`| ${p.peer} | ${p.workload} | ${round(p.perSecond)} | ${Number.isFinite(mine) ? round(mine / p.perSecond, 3) : '—'} | ${p.note} |`);
    }
    out.push('');
  }

  if (r.published) {
    out.push('## The published orchestrator workload (submit → receipt, wall time)', '');
    out.push('| workload | median | runs (ms) | floor | server-side (created → receipt) |', '| --- | ---: | --- | ---: | ---: |');
    for (const p of r.published) out.push(`| ${p.workload} | **${ms(p.wallMs)} ms** | ${p.runs.join(', ')} | ${p.floorMs} ms | ${ms(p.serverMs)} ms |`);
    const light = r.published[0];
    if (light) {
      out.push('', `40 light tasks: MC ${round(light.wallMs / 1000, 3)} s vs published best ${publishedBest.map((b) => `${b.system} ${b.seconds} s (MC ÷ it ${round(light.wallMs / 1000 / b.seconds, 2)}×, ${light.wallMs / 1000 < b.seconds ? 'MC faster' : 'MC slower'})`).join(', ')}; target < ${mcTargetSeconds} s — ${light.wallMs / 1000 < mcTargetSeconds ? 'MET' : 'NOT MET'}.`);
    }
    out.push('');
  }

  if (r.growth) {
    const g = r.growth;
    out.push('## Growth', '');
    out.push(`1,000-task fan-out (1 → 998 → 1): **${ms(g.fanOut.wallMs)} ms** submit → receipt (runs ${g.fanOut.runs.join(', ')}), ${ms(g.fanOut.perTaskMs)} ms per task.`, '');
    out.push('| rows in executions | request | p50 / p95 / p99 ms |', '| ---: | --- | --- |');
    for (const l of g.list) out.push(`| ${l.rows.toLocaleString('en')} | \`GET ${l.query}\` | ${pct(l.latency)} |`);
    for (const l of g.start) out.push(`| ${l.rows.toLocaleString('en')} | \`POST /api/executions\` (1 task, sequential) | ${pct(l.latency)} |`);
    out.push('', `(${g.list.at(-1)?.rows.toLocaleString('en')} synthetic rows bulk-inserted in ${round(g.insertSeconds)} s.)`, '');
  }

  if (r.profile) {
    out.push('## Per execution: what it costs', '');
    out.push('| workload | exec/s (counting proxy on) | SQL statements server + worker | transactions | rows inserted | rows updated | Redis commands | CPU ms server / worker / Postgres / Redis / machine |', '| --- | ---: | --- | ---: | --- | --- | ---: | --- |');
    for (const p of r.profile.results) {
      const e = p.perExecution;
      const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
      out.push(`| ${p.workload} | ${p.perSecond} | ${e.statementsServer} + ${e.statementsWorker} | ${e.transactions} | ${kv(e.rowsInserted)} | ${kv(e.rowsUpdated)} | ${e.redisCommands} | ${e.cpuMsServer} / ${e.cpuMsWorker} / ${e.cpuMsPostgres} / ${e.cpuMsRedis} / ${e.cpuMsMachine} |`);
    }
    out.push('', 'Postgres backends of MC\'s database during the run (average count, by state : wait event):', '');
    for (const p of r.profile.results) out.push(`- ${p.workload}: ${Object.entries(p.waits).slice(0, 8).map(([k, v]) => `${k} ${v}`).join('; ')}; waiting for an advisory lock: ${p.advisoryLockWaiters}`);
    for (const p of r.profile.results) {
      for (const proc of ['server', 'worker'] as const) {
        const top = p.topStatements[proc].slice(0, 12);
        if (top.length === 0) continue;
        out.push('', `Most frequent statements, ${p.workload}, ${proc} (per execution):`, '', '| per exec | SQL (first 140 characters) |', '| ---: | --- |');
        for (const [q, k] of top) out.push(`| ${k} | \`${q.slice(0, 140).replace(/\|/g, '\\|').replace(/`/g, "'")}\` |`);
      }
    }
    out.push('', `CPU profiles (bun --cpu-prof-md): ${r.profile.profileDir}`, '');
  }
  if (r.hops) {
    const h = r.hops;
    out.push('', `## publish→start at ${h.rate}/s, hop by hop (1 task)`, '');
    out.push('| hop | p50 / p95 / p99 ms | what it is |', '| --- | --- | --- |');
    out.push(`| created → job added | ${pct(h.hops.createdToAdded)} | the start's group transaction from its BEGIN (\`created_at\`) to its commit, then the enqueue's check and add |`);
    out.push(`| added → active | ${pct(h.hops.addedToActive)} | BullMQ hands the job to a worker |`);
    out.push(`| active → claim | ${pct(h.hops.activeToClaim)} | the worker's processor gets the job and its claim statement starts (\`started_at\`) |`);
    out.push(`| **publish → start** | **${pct(h.hops.publishToStart)}** | the whole; executions left out of the three hops above (their job's events not read): ${h.unmatched} |`);
    out.push('', `p95 of each second (\`V\` a vacuum, \`A\` an analyze of MC's tables ran in it):`, '');
    h.seconds.forEach((line, i) => out.push(`- run ${i + 1}: ${line.join(' ')}`));
  }
  return out.join('\n');
}
