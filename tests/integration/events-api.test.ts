import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createTRPCClient, httpSubscriptionLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@mc/server/trpc/app-router';
import { FetchEventSource } from '@mc/shared/fetch-event-source';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MC_EVENTS_POLL_MS: '50' }, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

async function publishAs(token: string): Promise<string> {
  const client = stack.trpcAs(token);
  const wf = await client.workflows.create.mutate({ name: `ev-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
  await client.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

/** The typed client a dashboard or CLI uses: httpSubscriptionLink over SSE, with headers (FetchEventSource). */
function subscriber(token: string, fetchImpl: (url: string, init: RequestInit) => Promise<Response>) {
  return createTRPCClient<AppRouter>({
    links: [
      httpSubscriptionLink({
        url: 'http://mc.test/trpc',
        transformer: superjson,
        EventSource: FetchEventSource as never,
        eventSourceOptions: () => ({ headers: { authorization: `Bearer ${token}` }, fetch: fetchImpl, retryMs: 50 }) as never,
      }),
    ],
  });
}

describe('events.list and GET /api/events', () => {
  it('page through the caller tenant events by seq, the same items both ways', async () => {
    const wfId = await publishAs(stack.adminToken);
    const first = await stack.trpc.events.list.query({ limit: 2, after: 0 });
    expect(first.items).toHaveLength(2);
    expect(first.nextAfter).toBe(first.items[1]!.seq);
    const rest = await stack.rest('GET', `/api/events?after=${first.nextAfter}&limit=500`);
    expect(rest.status).toBe(200);
    expect(rest.body.items[0].seq).toBeGreaterThan(first.nextAfter!);
    expect(rest.body.items.some((e: { type: string; subject: { workflowId?: string } }) => e.type === 'mc.workflow.published' && e.subject.workflowId === wfId)).toBe(true);
    const all = await stack.trpc.events.list.query({ limit: 500, after: 0 });
    expect(all.items.map((e) => e.id)).toEqual([...first.items, ...rest.body.items].map((e: { id: string }) => e.id));
  });

  it('shows another tenant nothing of ours', async () => {
    const other = await stack.tokenFor('viewer', `t-${crypto.randomUUID().slice(0, 6)}`);
    const res = await stack.rest('GET', '/api/events?after=0', undefined, { authorization: `Bearer ${other}` });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([]);
  });
});

describe('events.subscribe (SSE, httpSubscriptionLink)', () => {
  it('streams new events of the caller tenant as they commit, and resumes after the last id on reconnect', async () => {
    const otherTenant = `s-${crypto.randomUUID().slice(0, 6)}`;
    const otherComposer = await stack.tokenFor('admin', otherTenant);
    const start = (await stack.trpc.events.list.query({ limit: 500, after: 0 })).items.at(-1)?.seq ?? 0;

    // A fetch that can cut the stream, as a dropped connection would.
    let cut: (() => void) | null = null;
    const resumedWith: string[] = [];
    const fetchImpl = async (url: string, init: RequestInit) => {
      const lastId = new Headers(init.headers).get('last-event-id');
      if (lastId) resumedWith.push(lastId);
      const res = await stack.app.handle(new Request(url, init));
      if (!res.body) return res;
      const reader = res.body.getReader();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          cut = () => {
            controller.error(new Error('connection dropped'));
            void reader.cancel();
          };
        },
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };

    const seen: { id: string; seq: number; type: string }[] = [];
    const sub = subscriber(stack.adminToken, fetchImpl).events.subscribe.subscribe(
      { after: start },
      { onData: (d) => seen.push({ id: d.id, seq: d.data.seq, type: d.data.type }) },
    );
    try {
      const wf1 = await publishAs(stack.adminToken);
      await publishAs(otherComposer);
      await eventually(async () => seen.some((e) => e.type === 'mc.workflow.published'), { what: 'the first published event' });
      const beforeCut = seen.length;
      cut!();
      const wf2 = await publishAs(stack.adminToken);
      await eventually(async () => (await stack.trpc.events.list.query({ limit: 500, after: start })).items.length === seen.length, { what: 'every event after reconnecting' });
      const expected = (await stack.trpc.events.list.query({ limit: 500, after: start })).items;
      // Each once, in order, only ours; the reconnect asked for what came after the last one seen.
      expect(seen.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
      expect(seen.map((e) => e.id)).toEqual(expected.map((e) => String(e.seq)));
      expect(resumedWith[0]).toBe(String(seen[beforeCut - 1]!.seq));
      expect(expected.filter((e) => e.type === 'mc.workflow.published').map((e) => (e.subject as { workflowId: string }).workflowId)).toEqual([wf1, wf2]);
    } finally {
      sub.unsubscribe();
    }
  });
});
