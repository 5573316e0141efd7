import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { runMigrations } from '@mc/server/db/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '../../dev/embedded-postgres.ts';
import { spawnMc } from '../support/child-process.ts';
import { freePort } from '../support/free-port.ts';
import { expectAcceptedAllSettled, halfWrittenExecutions } from '../support/invariants.ts';
import { overHttp, startLoad, startViaRest, startViaTrpc, type StartAnswer, type StartTarget } from '../support/start-load.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

// A Postgres of this file's own (never the machine's on 5432: other test files use it).
const dir = mkdtempSync(join(tmpdir(), 'mc-pg-chaos-'));
// Postgres runs as the `postgres` OS user when we are root: it must be able to enter the directory.
chmodSync(dir, 0o755);
const dataDir = join(dir, 'data');
let port: number;
let pg: RunningPostgres | null = null;
let stack: TestStack;
let workflowId: string;
let target: StartTarget;
// The test process's own connections are spared by pg_terminate_backend: it is the referee, not the system under test.
const harnessApp = 'mc-chaos-harness';

/**
 * The server and the worker run as child processes under a supervisor, as in production
 * (systemd, Kubernetes): a process that exits is started again, and the exit is recorded. A
 * crash is then visible in the report, and survivable, but never silently hides lost work.
 */
interface Supervised {
  proc: Subprocess;
  exits: (number | null)[];
  stopped: boolean;
}
const supervised: Supervised[] = [];
function supervise(entry: 'worker/main.ts' | 'server/main.ts', env: Record<string, string>): Supervised {
  const s: Supervised = { proc: spawnMc(entry, env), exits: [], stopped: false };
  const watch = (): void => {
    void s.proc.exited.then((code) => {
      if (s.stopped) return;
      s.exits.push(code);
      // A supervisor's restart delay: a process that cannot start (no database) is not respawned in a hot loop.
      setTimeout(() => {
        if (s.stopped) return;
        s.proc = spawnMc(entry, env);
        watch();
      }, 500);
    });
  };
  watch();
  supervised.push(s);
  return s;
}
let server: Supervised;
let worker: Supervised;

const startPostgres = async () => {
  pg = await startEmbeddedPostgres({ dataDir, port, database: 'mc' });
  return pg;
};

beforeAll(async () => {
  port = await freePort();
  const running = await startPostgres();
  await runMigrations(running.url);
  stack = await startTestStack({ DATABASE_URL: `${running.url}?application_name=${harnessApp}` }, { worker: false });
  const serverPort = await freePort();
  const childEnv = { ...stack.env, DATABASE_URL: running.url };
  server = supervise('server/main.ts', { ...childEnv, HOST: '127.0.0.1', PORT: String(serverPort) });
  worker = supervise('worker/main.ts', childEnv);
  target = overHttp(`http://127.0.0.1:${serverPort}`, stack.adminToken);
  await eventually(async () => (await fetch(`http://127.0.0.1:${serverPort}/readyz`)).ok || null, { what: 'the server child to be ready', timeoutMs: 30_000 });
  const wf = await stack.trpc.workflows.create.mutate({
    name: 'postgres-outage',
    version: '1.0.0',
    tasks: [
      { id: 'a', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 100 } },
      { id: 'b', uses: 'pkg:mc/sleep@1.0.0', needs: ['a'], with: { ms: 100 } },
      { id: 'c', uses: 'pkg:mc/sleep@1.0.0', needs: ['a'], with: { ms: 50 } },
      { id: 'd', uses: 'pkg:mc/sleep@1.0.0', needs: ['b', 'c'], with: { ms: 20 } },
    ],
  });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
}, 90_000);

afterAll(async () => {
  for (const c of supervised) {
    c.stopped = true;
    c.proc.kill('SIGKILL');
    await c.proc.exited;
  }
  await stack?.close();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Ends every other session on the database: the server's pool and the worker's, mid-query or idle. */
async function terminateBackends(): Promise<number> {
  const admin = postgres(pg!.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = 'mc' and pid <> pg_backend_pid() and application_name <> ${harnessApp}`;
    return rows.filter((r) => r.killed).length;
  } finally {
    await admin.end({ timeout: 2 });
  }
}

describe('Postgres restarted and its connections terminated under load', () => {
  it('loses nothing acknowledged, writes no half execution, and answers 503 while down', async () => {
    const load = startLoad(target, workflowId, 200);
    await Bun.sleep(2_500);

    const killed = await terminateBackends();
    expect(killed).toBeGreaterThan(0);
    await Bun.sleep(1_500);

    await pg!.stop();
    pg = null;
    const downAt = Date.now();
    await Bun.sleep(500);
    // A probe that finds no server listening (a supervised restart) asks again.
    const probe = (via: typeof startViaRest) => eventually(async () => { const a = await via(target, workflowId); return a.status === -1 ? null : a; }, { what: 'an answer', timeoutMs: 10_000 });
    const probes: StartAnswer[] = [await probe(startViaRest), await probe(startViaTrpc)];
    await Bun.sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    await startPostgres();
    const upAt = Date.now();
    const outageMs = upAt - downAt;
    await eventually(async () => (await startViaRest(target, workflowId)).status === 201, { what: 'starts to be acknowledged again', timeoutMs: 30_000 });
    const recoveryMs = Date.now() - upAt;

    await Bun.sleep(1_500);
    await terminateBackends();
    await Bun.sleep(2_000);
    await load.stop();

    for (const probe of probes) {
      expect({ via: probe.via, status: probe.status }).toEqual({ via: probe.via, status: 503 });
      expect(Number(probe.retryAfter)).toBeGreaterThan(0);
    }
    // Never a 500: a refusal is a 503 with Retry-After, or no answer at all while a crashed process restarts.
    const refused = load.answers.filter((a) => a.executionId === null && a.status !== -1);
    const unanswered = load.answers.filter((a) => a.status === -1).length;
    for (const a of refused) expect({ status: a.status, retryAfter: a.retryAfter !== null }).toEqual({ status: 503, retryAfter: true });
    const accepted = load.accepted();
    expect(accepted.length).toBeGreaterThan(8);

    const report = await expectAcceptedAllSettled(stack.deps, accepted, { timeoutMs: 60_000 });
    expect(report.byStatus).toEqual({ succeeded: accepted.length });
    expect(await halfWrittenExecutions(stack.deps.db)).toEqual([]);
    console.info(`postgres-outage: down ${outageMs} ms, recovery ${recoveryMs} ms after restart, ${accepted.length} accepted, ${refused.length} refused, ${unanswered} unanswered; server exits ${JSON.stringify(server.exits)}, worker exits ${JSON.stringify(worker.exits)}`);
  }, 115_000);
});
