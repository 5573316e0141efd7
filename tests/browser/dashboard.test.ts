import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runCanaryController } from '@mc/server/releases/canary-controller';
import { ensureWebBuild } from '../../web/build-web.ts';
import { expectAccessible, launchChromium } from '../support/browser.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * The dashboard in a real browser (Debian's Chromium) against a real server and worker: the
 * journeys a person takes, each page checked by axe-core, screenshotted, and watched for console
 * errors.
 */
const root = join(import.meta.dir, '..', '..');
const screenshotDir = join(root, 'test-results', 'screenshots');

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let baseUrl: string;

/** Console errors and page errors, per test; a test that expects an HTTP error says which. */
let consoleErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(screenshotDir, { recursive: true });
  await ensureWebBuild();
  // The browser signs in as the anonymous admin: token sign-in is the identity tests' subject.
  stack = await startTestStack({ MC_ANONYMOUS_ROLE: 'admin' });
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  const port = stack.app.server?.port;
  if (!port) throw new Error('the server did not report a port');
  baseUrl = `http://127.0.0.1:${port}`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.app.stop(true);
  await stack?.close();
});

async function openPage(path: string, ctx: BrowserContext = context): Promise<Page> {
  const page = await ctx.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(`${baseUrl}${path}`);
  return page;
}

/** No console errors since the test began, except the HTTP statuses the test provoked on purpose. */
function expectCleanConsole(allowedStatuses: number[] = []) {
  const unexpected = consoleErrors.filter((e) => !allowedStatuses.some((s) => e.includes(`status of ${s}`)));
  consoleErrors = [];
  expect(unexpected).toEqual([]);
}

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function createWorkflow(name: string, tasks: unknown[], extra: Record<string, unknown> = {}) {
  return stack.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks, ...extra });
}

describe('dashboard', () => {
  it('serves the shell with strict security headers and leaves API paths alone', async () => {
    const shell = await fetch(`${baseUrl}/workflows/some-client-route`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toContain('text/html');
    const csp = shell.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(shell.headers.get('x-content-type-options')).toBe('nosniff');
    expect(shell.headers.get('referrer-policy')).toBe('no-referrer');
    expect(shell.headers.get('x-frame-options')).toBe('DENY');

    const asset = /\/_app\/immutable\/[^"]+\.js/.exec(await shell.text())?.[0];
    expect(asset).toBeDefined();
    const js = await fetch(`${baseUrl}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(js.headers.get('cache-control')).toContain('immutable');

    for (const path of ['/api/no-such-thing', '/trpc/no.such', '/metrics/nope', '/_app/immutable/missing.js', '/healthz/x']) {
      const res = await fetch(`${baseUrl}${path}`);
      expect({ path, status: res.status, html: (res.headers.get('content-type') ?? '').includes('text/html') }).toEqual({ path, status: 404, html: false });
    }
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
  });

  it('publishes, plans and executes a workflow, then shows it succeeded with a verified receipt', async () => {
    const name = uniqueName('greeter');
    const wf = await createWorkflow(name, [
      { id: 'greet', uses: 'pkg:demo/echo@1.0.0', with: { who: '${{ inputs.who }}', times: '${{ inputs.times }}' } },
      { id: 'pause', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 50 }, needs: ['greet'] },
      { id: 'report', uses: 'pkg:demo/echo@1.0.0', with: { done: true }, needs: ['greet', 'pause'], retries: 2 },
    ]);

    // The list, searched by name.
    const page = await openPage('/workflows');
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: '1.0.0' }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(name) }).waitFor();
    expect(await page.getByText('draft', { exact: true }).first().isVisible()).toBe(true);
    expect(await page.locator('.dag-node').count()).toBe(3);
    await screenshot(page, 'workflow-draft');
    await expectAccessible(page, 'workflow (draft)');

    // The header shows who the server takes the browser to be (the anonymous admin of this stack).
    expect(await page.locator('.actor').innerText()).toMatch(/Signed in as anonymous\b.*\badmin/);

    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('button', { name: 'Execute' }).waitFor();
    expect(await page.locator('.page-head .badge').innerText()).toBe('published');

    // An inputs form generated from the manifest's `${{ inputs.* }}`.
    await page.getByLabel('inputs.who').fill('Ada');
    await page.getByLabel('inputs.times').fill('3');

    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    await page.getByTestId('plan-verdict').waitFor();
    expect(await page.getByTestId('plan-verdict').innerText()).toBe('allowed');
    expect(await page.getByTestId('plan-cost').innerText()).toMatch(/^\$\d+\.\d+$/);
    expect(await page.locator('ol.stages li').count()).toBe(3);
    expect(await page.getByRole('table', { name: 'Decisions of this plan' }).locator('tbody tr').count()).toBeGreaterThan(0);
    await screenshot(page, 'workflow-plan');
    await expectAccessible(page, 'workflow (planned)');

    await page.getByRole('button', { name: 'Execute' }).click();
    await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/);
    const executionId = page.url().split('/').pop()!;
    await page.getByTestId('execution-status').getByText('succeeded').waitFor({ timeout: 30_000 });
    await page.getByTestId('receipt-badge').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('receipt-badge').innerText()).toContain('verified');
    expect(await page.locator('.dag-node.status-succeeded').count()).toBe(3);
    expect(await page.getByRole('link', { name: 'Receipt JSON' }).getAttribute('download')).toBe(`receipt-${executionId}.json`);
    expect(await page.getByRole('link', { name: 'Bundle JSON' }).getAttribute('href')).toStartWith('blob:');
    expect(await page.getByRole('link', { name: 'Disclosure pack' }).getAttribute('href')).toBe(`/api/executions/${executionId}/disclosure.tgz`);
    await page.locator('.log-line').first().waitFor();
    expect(await page.getByRole('table', { name: 'Decisions for this execution' }).locator('tbody tr').count()).toBeGreaterThan(0);
    await screenshot(page, 'execution-detail');
    await expectAccessible(page, 'execution detail');

    // The inputs reached the task as typed values.
    const exec = await stack.trpc.executions.get.query({ id: executionId });
    expect(exec.inputs).toEqual({ who: 'Ada', times: 3 });

    // At phone width the same page still reads.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const small = await openPage(`/executions/${executionId}`, phone);
    await small.getByTestId('receipt-badge').waitFor({ timeout: 30_000 });
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await screenshot(small, 'execution-detail-phone');
    await phone.close();
    await page.close();
    expectCleanConsole();
  }, 90_000);

  it('shows the policy reason when an execution is denied (region differs from the workflow)', async () => {
    const wf = await createWorkflow(uniqueName('resident'), [{ id: 'only', uses: 'pkg:demo/echo@1.0.0' }], { region: 'us' });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const page = await openPage(`/workflows/${wf.id}`);
    await page.getByLabel('Request region').fill('eu');
    await page.getByRole('button', { name: 'Execute' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain('POLICY_DENIED');
    expect(text).toContain('residency_mismatch');
    expect(page.url()).toEndWith(`/workflows/${wf.id}`);
    await screenshot(page, 'execution-denied');
    await expectAccessible(page, 'denied execution');
    await page.close();
    expectCleanConsole([403]);
  }, 60_000);

  it('lists, filters and pages executions, and shows overview figures and audit events', async () => {
    const wf = await createWorkflow(uniqueName('many'), [{ id: 'one', uses: 'pkg:demo/echo@1.0.0' }]);
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const ids: string[] = [];
    for (let i = 0; i < 55; i++) ids.push((await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { i } })).id);

    const list = await openPage(`/executions?workflowId=${wf.id}`);
    await list.locator('tbody tr').first().waitFor();
    expect(await list.locator('tbody tr').count()).toBe(50);
    await list.getByRole('button', { name: 'Next →' }).click();
    await list.getByText('Page 2').waitFor();
    await list.waitForFunction(() => document.querySelectorAll('tbody tr').length === 5);
    await list.getByRole('button', { name: '← Previous' }).click();
    await list.waitForFunction(() => document.querySelectorAll('tbody tr').length === 50);
    // Live: rows turn succeeded without a reload.
    await list.waitForFunction(() => Array.from(document.querySelectorAll('tbody .badge')).every((b) => b.textContent === 'succeeded'), undefined, { timeout: 45_000 });
    await screenshot(list, 'executions-list');
    await expectAccessible(list, 'executions list');

    await list.getByLabel('Status').selectOption('failed');
    await list.getByRole('button', { name: 'Filter' }).click();
    await list.getByText('No execution matches these filters.').waitFor();
    await list.close();

    const overview = await openPage('/');
    await overview.getByRole('heading', { name: 'Success rate' }).waitFor();
    expect(await overview.locator('.stat').first().innerText()).toMatch(/^\d+$/);
    expect(await overview.locator('svg.chart rect.bar').count()).toBe(30);
    await screenshot(overview, 'overview');
    await expectAccessible(overview, 'overview');
    await overview.close();

    const audit = await openPage(`/audit?executionId=${ids[0]}`);
    await audit.locator('tbody tr').first().waitFor();
    const types = await audit.locator('tbody td:nth-child(3)').allInnerTexts();
    expect(types).toContain('mc.execution.started');
    await screenshot(audit, 'audit');
    await expectAccessible(audit, 'audit');
    await audit.getByLabel('Type').selectOption('mc.workflow.published');
    await audit.getByLabel('Execution id').fill('');
    await audit.getByLabel('Workflow id').fill(wf.id);
    await audit.getByRole('button', { name: 'Filter' }).click();
    await audit.waitForURL(/type=mc\.workflow\.published/);
    await audit.waitForFunction(() => {
      const cells = Array.from(document.querySelectorAll('tbody td:nth-child(3)'));
      return cells.length > 0 && cells.every((td) => td.textContent === 'mc.workflow.published');
    });
    expect(await audit.locator('tbody tr').count()).toBe(1);
    await audit.close();
    expectCleanConsole();
  }, 120_000);

  it('lists the task queues and their completed jobs in bull-board', async () => {
    const wf = await createWorkflow(uniqueName('queued'), [{ id: 'q1', uses: 'pkg:demo/echo@1.0.0' }]);
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
    await stack.trpc.receipts.get.query({ executionId: exec.id });

    const page = await openPage('/queues');
    await page.getByText('mc-tasks-default').first().waitFor({ timeout: 15_000 });
    expect(await page.getByText('mc-receipts').count()).toBeGreaterThan(0);
    await page.getByText('Loading...').waitFor({ state: 'detached', timeout: 15_000 });
    await screenshot(page, 'queues');
    await page.goto(`${baseUrl}/queues/queue/mc-tasks-default?status=completed`);
    await page.getByText(`${exec.id}.q1`).first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'queues-completed');
    await page.close();
    expectCleanConsole();
  }, 60_000);

  it('stays responsive on a 2,000-task workflow graph', async () => {
    // A layered DAG: 40 stages of 50 tasks, each needing two tasks of the stage before.
    const tasks = Array.from({ length: 2000 }, (_, i) => {
      const stage = Math.floor(i / 50);
      const col = i % 50;
      return {
        id: `t${i}`,
        uses: 'pkg:demo/echo@1.0.0',
        ...(stage > 0 ? { needs: [`t${(stage - 1) * 50 + col}`, `t${(stage - 1) * 50 + ((col + 7) % 50)}`] } : {}),
      };
    });
    const wf = await createWorkflow(uniqueName('huge'), tasks);

    const page = await context.newPage();
    page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    // Long tasks are recorded from the first byte (an init script runs before the page's own).
    await page.addInitScript(() => {
      const w = globalThis as unknown as { __longest: number };
      w.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    const started = performance.now();
    await page.goto(`${baseUrl}/workflows/${wf.id}`);
    await page.locator('.dag figcaption').waitFor({ timeout: 30_000 });
    const renderMs = performance.now() - started;
    expect(await page.locator('.dag-node').count()).toBe(2000);
    expect(await page.locator('.dag figcaption').innerText()).toContain('40 stages');

    // The page answers at once and can still be used.
    const roundTrip = performance.now();
    await page.evaluate(() => 1);
    expect(performance.now() - roundTrip).toBeLessThan(2000);
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('Page 2').waitFor();
    const longest = await page.evaluate(() => (globalThis as unknown as { __longest: number }).__longest);
    // Generous on purpose (2 shared cores, CI noise): a frozen page would take far longer.
    expect(longest).toBeLessThan(5000);
    expect(renderMs).toBeLessThan(30_000);
    await screenshot(page, 'workflow-2000-tasks');
    await page.close();
    expectCleanConsole();
  }, 90_000);

  it('shows a canary release against its thresholds, its timeline and the error budget, and rolls it back', async () => {
    const name = uniqueName('canary');
    const stable = await createWorkflow(name, [{ id: 'one', uses: 'pkg:demo/echo@1.0.0' }]);
    await stack.trpc.workflows.publish.mutate({ id: stable.id });
    const next = await stack.trpc.workflows.create.mutate({ name, version: '1.1.0', tasks: [{ id: 'one', uses: 'pkg:demo/echo@1.0.0' }] });
    await stack.trpc.workflows.publish.mutate({ id: next.id });
    const { release } = await stack.trpc.releases.start.mutate({ workflowId: next.id });
    const run = await stack.trpc.executions.start.mutate({ workflowId: next.id });
    await stack.trpc.receipts.get.query({ executionId: run.id, waitMs: 20_000 });
    await runCanaryController(stack.deps, new Date());

    const page = await openPage(`/releases?id=${release!.id}`);
    await page.getByRole('heading', { level: 2, name: `${name}: 1.0.0 → 1.1.0` }).waitFor();
    expect(await page.getByTestId('release-weight').innerText()).toBe('10 %');
    expect(await page.getByTestId('release-verdict').innerText()).toContain('not enough canary executions');
    expect(await page.getByRole('row', { name: /Error rate/ }).innerText()).toContain('0.00 %');
    expect(await page.getByTestId('release-timeline').innerText()).toContain('started');
    await page.getByTestId('budget-remaining').waitFor();
    await screenshot(page, 'releases');
    await expectAccessible(page, 'releases');

    await page.getByRole('button', { name: 'Roll back' }).click();
    await page.locator('.page-head .badge', { hasText: 'rolled back' }).first().waitFor();
    expect(await page.getByTestId('release-weight').innerText()).toBe('0 %');
    expect(await page.getByTestId('release-timeline').innerText()).toContain('rolled back');
    await page.close();
    expectCleanConsole();
  }, 60_000);

  it('can be used from the keyboard: a skip link first, then the main navigation', async () => {
    const page = await openPage('/workflows');
    await page.getByRole('heading', { name: 'Workflows', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Workflows');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Executions', level: 1 }).waitFor();
    await page.close();
    expectCleanConsole();
  });
});
