import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Browser } from 'playwright-core';
import { ensureWebBuild } from '../../web/build-web.ts';
import { launchChromium } from '../support/browser.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/** Token sign-in in a real browser, against a server that accepts no anonymous callers. */
let stack: TestStack;
let browser: Browser;
let baseUrl: string;

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

async function signedInPage(token: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Signed in once the form is gone: navigating earlier could abort the sign-in itself.
  await page.getByLabel('Token').waitFor({ state: 'detached' });
  return { context, page };
}

describe('dashboard sign-in', () => {
  it('asks for a token, refuses a wrong one, and shows the role of a right one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${baseUrl}/`);
    await page.getByLabel('Token').fill('mc_this-is-not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('unknown API token').waitFor();
    await context.close();

    const viewer = await signedInPage(await stack.tokenFor('viewer'));
    await viewer.page.getByText('viewer', { exact: false }).first().waitFor();
    await viewer.context.close();
  });

  it('hides what the role may not do, and the server refuses it anyway', async () => {
    const draft = await stack.trpc.workflows.create.mutate({ name: 'viewer-sees', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    const viewerToken = await stack.tokenFor('viewer');
    const viewer = await signedInPage(viewerToken);
    await viewer.page.goto(`${baseUrl}/workflows/${draft.id}`);
    await viewer.page.getByRole('heading', { name: /viewer-sees/ }).waitFor();
    expect(await viewer.page.getByRole('button', { name: 'Publish' }).count()).toBe(0);
    await viewer.context.close();
    const refused = await stack.rest('POST', `/api/workflows/${draft.id}/publish`, undefined, { authorization: `Bearer ${viewerToken}` });
    expect(refused.status).toBe(403);

    const composer = await signedInPage(await stack.tokenFor('composer'));
    await composer.page.goto(`${baseUrl}/workflows/${draft.id}`);
    await composer.page.getByRole('button', { name: 'Publish' }).waitFor();
    await composer.context.close();
  });

  it('opens the queue dashboard for a signed-in admin (session cookie) and not for a viewer', async () => {
    const admin = await signedInPage(stack.adminToken);
    await admin.page.getByText('admin', { exact: false }).first().waitFor();
    // The cookie is set by a request that follows sign-in: wait for it rather than race it.
    await eventually(async () => (await admin.context.cookies()).some((c) => c.name === 'mc_session'), { what: 'the session cookie' });
    const queues = await admin.page.goto(`${baseUrl}/queues`);
    expect(queues?.status()).toBe(200);
    const cookies = await admin.context.cookies();
    expect(cookies.find((c) => c.name === 'mc_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/queues' });
    await admin.context.close();

    const viewer = await signedInPage(await stack.tokenFor('viewer'));
    await viewer.page.getByText('viewer', { exact: false }).first().waitFor();
    await eventually(async () => (await viewer.context.cookies()).some((c) => c.name === 'mc_session'), { what: 'the session cookie' });
    const refused = await viewer.page.goto(`${baseUrl}/queues`);
    expect(refused?.status()).toBe(403);
    await viewer.context.close();

    const anonymous = await fetch(`${baseUrl}/queues`);
    expect(anonymous.status).toBe(401);
  });
});
