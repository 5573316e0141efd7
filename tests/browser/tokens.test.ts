import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { ensureWebBuild } from '../../web/build-web.ts';
import { expectAccessible, launchChromium } from '../support/browser.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Issue 8 in the dashboard: an admin makes an API token on the Tokens page, sees it once, and
 * revokes it; the page is for admins only. Against a server that accepts no anonymous callers.
 */

let stack: TestStack;
let browser: Browser;
let baseUrl: string;
/** Console and page errors, per test; a test that provokes an HTTP error says which status. */
let consoleErrors: string[] = [];

beforeAll(async () => {
  await ensureWebBuild();
  stack = await startTestStack();
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${stack.app.server!.port}`;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.app.stop(true);
  await stack?.close();
});

function watch(page: Page) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
}

function expectCleanConsole(allowedStatuses: number[] = []) {
  const unexpected = consoleErrors.filter((e) => !allowedStatuses.some((s) => e.includes(`status of ${s}`)));
  consoleErrors = [];
  expect(unexpected).toEqual([]);
}

async function signedInPage(token: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  watch(page);
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Signed in once the form is gone: navigating earlier could abort the sign-in itself.
  await page.getByLabel('Token').waitFor({ state: 'detached' });
  // The 401 of the first, credential-less auth.me is what asks for sign-in: not an error.
  expectCleanConsole([401]);
  return { context, page };
}

const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe('dashboard: API tokens', () => {
  it('lets an admin create a viewer token, shows it once, and revokes it', async () => {
    const admin = await signedInPage(stack.adminToken);
    const { page } = admin;
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByRole('cell', { name: 'bootstrap', exact: true }).waitFor();
    await expectAccessible(page, 'tokens (list)');

    const name = uniqueName('browser-viewer');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByLabel('Expires after (days)').fill('30');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByLabel('New token');
    await secret.waitFor();
    await page.getByText('Shown once:').waitFor();
    expect(await secret.getAttribute('readonly')).not.toBeNull();
    const token = await secret.inputValue();
    expect(token).toMatch(/^mc_/);
    const row = page.getByRole('row').filter({ hasText: name });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain(token.slice(0, 10));
    await expectAccessible(page, 'tokens (new token shown)');

    // The token works, and is not shown again once dismissed or after a reload.
    expect((await stack.trpcAs(token).auth.me.query()).role).toBe('viewer');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByLabel('New token').count()).toBe(0);
    await page.reload();
    await row.waitFor();
    expect(await page.content()).not.toContain(token);

    await row.getByRole('button', { name: `Revoke ${name}` }).click();
    await row.getByRole('group', { name: `Confirm revoking ${name}` }).waitFor();
    await expectAccessible(page, 'tokens (confirm revoke)');
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await row.getByText('revoked', { exact: true }).waitFor();
    expect(await row.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    await admin.context.close();
    expectCleanConsole();

    // The revoked token no longer signs in.
    const context = await browser.newContext();
    const signIn = await context.newPage();
    watch(signIn);
    await signIn.goto(`${baseUrl}/`);
    await signIn.getByLabel('Token').fill(token);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await signIn.getByText('this API token was revoked').waitFor();
    await context.close();
    expectCleanConsole([401]);
  });

  it('does not offer Tokens to a viewer, and tells them the page is for admins', async () => {
    const viewer = await signedInPage(await stack.tokenFor('viewer'));
    const { page } = viewer;
    await page.getByText('viewer', { exact: false }).first().waitFor();
    await page.getByRole('link', { name: 'Audit' }).waitFor();
    expect(await page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);
    // The token is kept for the tab, so a direct visit stays signed in.
    await page.goto(`${baseUrl}/tokens`);
    await page.getByRole('heading', { name: 'Admins only' }).waitFor();
    expect(await page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);
    await expectAccessible(page, 'tokens (viewer)');
    await viewer.context.close();
    expectCleanConsole();
  });
});
