import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { runCanaryController } from '@mc/server/releases/canary-controller';
import * as releaseRepo from '@mc/server/releases/repository';
import { routeBucket } from '@mc/server/releases/routing';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Spec §8 Canary chaos row, "canary controller crash": the controller runs as a child process
 * (worker/releases/controller-once.ts) and is SIGKILLed at each step of a rollout — after its
 * analysis, inside the transition's transaction, right after the commit. A later run resumes
 * from what Postgres holds; the rollout ends exactly as an uninterrupted one, with one
 * promotion per window.
 */
let stack: TestStack;
const windows = [20_000, 40_000];

beforeAll(async () => {
  stack = await startTestStack({
    MC_CANARY_WEIGHTS: '10,50',
    MC_CANARY_WINDOWS_MS: windows.join(','),
    MC_CANARY_MIN_SAMPLES: '3',
    MC_RELEASE_CONTROLLER_INTERVAL_MS: '0',
  });
});
afterAll(async () => {
  await stack.close();
});

const root = new URL('../..', import.meta.url).pathname;

async function controllerProcess(now: Date, crashAt?: string): Promise<{ killed: boolean; output: string }> {
  const proc = Bun.spawn(['bun', 'worker/releases/controller-once.ts', `--now=${now.toISOString()}`, ...(crashAt ? [`--crash-at=${crashAt}`] : [])], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...stack.env },
    stdout: 'pipe',
    stderr: process.env.TEST_CHILD_OUTPUT ? 'inherit' : 'ignore',
  });
  const output = await new Response(proc.stdout).text();
  await proc.exited;
  return { killed: proc.signalCode === 'SIGKILL', output };
}

let seq = 0;
async function newRelease(canaryUses = 'pkg:demo/echo@1.0.0') {
  const name = `chaos-${++seq}-${Date.now().toString(36)}`;
  for (const [version, uses] of [['1.0.0', 'pkg:demo/echo@1.0.0'], ['1.1.0', canaryUses]] as const) {
    const wf = await stack.trpc.workflows.create.mutate({ name, version, tasks: [{ id: 't1', uses, ...(uses.includes('sleep') ? { with: { ms: 1000 } } : {}) }] } as never);
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
  }
  const canary = (await stack.trpc.workflows.list.query({ name })).items.find((w) => w.version === '1.1.0')!;
  const { release } = await stack.trpc.releases.start.mutate({ workflowId: canary.id });
  return { name, release: release!, canaryId: canary.id };
}

/** Three finished canary executions in the release's current stage. */
async function canaryTraffic(name: string, releaseId: string) {
  const current = (await releaseRepo.findRelease(stack.deps.db, releaseId))!;
  const keys: string[] = [];
  for (let i = 0; keys.length < 3; i++) if (routeBucket(releaseId, `key-${current.stage}-${i}`) < current.weight) keys.push(`key-${current.stage}-${i}`);
  const runs = await Promise.all(keys.map((routingKey) => stack.trpc.executions.start.mutate({ workflowName: name, routingKey })));
  await eventually(async () => {
    const views = await Promise.all(runs.map((r) => stack.trpc.executions.get.query({ id: r.id })));
    return views.every((v) => v.status === 'succeeded' || v.status === 'failed');
  }, { what: 'canary executions' });
  return current;
}

async function snapshot(releaseId: string) {
  const r = (await releaseRepo.findRelease(stack.deps.db, releaseId))!;
  const events = await releaseRepo.listReleaseEvents(stack.deps.db, releaseId);
  const stable = await releaseRepo.findStableWorkflowId(stack.deps.db, r.tenantId, r.workflowName);
  return {
    status: r.status,
    weight: r.weight,
    stage: r.stage,
    version: r.version,
    stableIsCanary: stable === r.canaryWorkflowId,
    steps: events.map((e) => `${e.kind}:${e.fromWeight}->${e.toWeight}`),
  };
}

/** Drives one release through both promotions; `step` runs the controller for the step at `now`. */
async function rollout(step: (now: Date, stage: number, releaseId: string) => Promise<void>) {
  const { name, release } = await newRelease();
  for (const stage of [0, 1]) {
    const current = await canaryTraffic(name, release.id);
    expect(current.stage).toBe(stage);
    await step(new Date(current.stageStartedAt.getTime() + windows[stage]! + 1), stage, release.id);
  }
  return snapshot(release.id);
}

describe('canary controller killed with SIGKILL (chaos)', () => {
  let reference: Awaited<ReturnType<typeof snapshot>>;

  it('an uninterrupted rollout, for reference', async () => {
    reference = await rollout(async (now) => {
      await runCanaryController(stack.deps, now);
    });
    expect(reference).toEqual({
      status: 'completed',
      weight: 100,
      stage: 1,
      version: 3,
      stableIsCanary: true,
      steps: ['started:0->10', 'promoted:10->50', 'completed:50->100'],
    });
  });

  for (const crashAt of ['analysed', 'in_transaction', 'committed'] as const) {
    it(`killed ${crashAt.replace('_', ' ')} at each step, it resumes to the same end state`, async () => {
      const end = await rollout(async (now, stage, releaseId) => {
        const killed = await controllerProcess(now, crashAt);
        expect(killed.killed).toBe(true);
        // A kill before the commit leaves the stage as it was; after the commit the step is done.
        const weightAfterKill = crashAt === 'committed' ? [50, 100][stage] : [10, 50][stage];
        expect((await releaseRepo.findRelease(stack.deps.db, releaseId))!.weight).toBe(weightAfterKill!);
        // Restarted (twice, as a crash-looping controller would be): the step is made once.
        for (let i = 0; i < 2; i++) {
          const run = await controllerProcess(now);
          expect(run.killed).toBe(false);
        }
      });
      expect(end).toEqual(reference);
    });
  }

  it('killed inside a rollback, it resumes and emits mc.release.rollback once', async () => {
    // A slow canary (p95 over 900 ms): a breach that burns no error budget, so the controller is the one to act.
    const { name, release, canaryId } = await newRelease('pkg:mc/sleep@1.0.0');
    await canaryTraffic(name, release.id);
    const now = new Date(release.stageStartedAt.getTime() + 1000);
    expect((await controllerProcess(now, 'in_transaction')).killed).toBe(true);
    expect((await snapshot(release.id)).status).toBe('active');
    expect((await stack.trpc.audit.list.query({ type: 'mc.release.rollback', workflowId: canaryId })).items).toHaveLength(0);
    for (let i = 0; i < 2; i++) expect((await controllerProcess(now)).killed).toBe(false);
    expect(await snapshot(release.id)).toMatchObject({ status: 'rolled_back', weight: 0, steps: ['started:0->10', 'rolled_back:10->0'] });
    expect((await stack.trpc.audit.list.query({ type: 'mc.release.rollback', workflowId: canaryId })).items).toHaveLength(1);
  });
});
