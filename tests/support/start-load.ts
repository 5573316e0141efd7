import type { TestStack } from './test-stack.ts';

/**
 * Light, steady start traffic for the outage tests (issue 9): one start every `intervalMs`,
 * alternating REST and tRPC, each answer recorded. A 201 is an acknowledgement the invariants hold
 * the system to; anything else must be a 503 (or 429) with Retry-After, never a 500.
 */
export interface StartAnswer {
  at: number;
  via: 'rest' | 'trpc';
  status: number;
  retryAfter: string | null;
  executionId: string | null;
}

export interface StartLoad {
  answers: StartAnswer[];
  accepted(): string[];
  stop(): Promise<void>;
}

/** Where starts go: the stack's app in-process, or an MC server child process over loopback HTTP. */
export interface StartTarget {
  handle(req: Request): Promise<Response>;
  token: string;
}
type Via = TestStack | StartTarget;
const targetOf = (via: Via): StartTarget => ('handle' in via ? via : { handle: (req) => via.app.handle(req), token: via.adminToken });
export const overHttp = (baseUrl: string, token: string): StartTarget => ({
  handle: (req) => {
    const url = new URL(req.url);
    return fetch(new Request(`${baseUrl}${url.pathname}${url.search}`, req));
  },
  token,
});

async function post(via: Via, path: string, body: unknown): Promise<Response | null> {
  const t = targetOf(via);
  try {
    return await t.handle(new Request(`http://mc.test${path}`, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }));
  } catch {
    return null; // no server listening (a server child process between crash and restart)
  }
}

/** One `executions.start` over tRPC's HTTP wire, so the test sees the status and headers a client would. Status -1: nothing answered. */
export async function startViaTrpc(via: Via, workflowId: string): Promise<StartAnswer> {
  const at = Date.now();
  const res = await post(via, '/trpc/executions.start', { json: { workflowId } });
  if (!res) return { at, via: 'trpc', status: -1, retryAfter: null, executionId: null };
  const body = (await res.json().catch(() => null)) as { result?: { data?: { json?: { id?: string } } } } | null;
  return { at, via: 'trpc', status: res.status, retryAfter: res.headers.get('retry-after'), executionId: res.status === 200 ? (body?.result?.data?.json?.id ?? null) : null };
}

export async function startViaRest(via: Via, workflowId: string): Promise<StartAnswer> {
  const at = Date.now();
  const res = await post(via, '/api/executions', { workflowId });
  if (!res) return { at, via: 'rest', status: -1, retryAfter: null, executionId: null };
  const body = (await res.json().catch(() => null)) as { id?: string } | null;
  return { at, via: 'rest', status: res.status, retryAfter: res.headers.get('retry-after'), executionId: res.status === 201 ? (body?.id ?? null) : null };
}

/** tRPC answers 200 where REST answers 201: both count as acknowledged. */
export const acknowledged = (a: StartAnswer) => a.executionId !== null;

export function startLoad(stack: Via, workflowId: string, intervalMs = 250): StartLoad {
  const answers: StartAnswer[] = [];
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const via = n++ % 2 === 0 ? startViaRest : startViaTrpc;
      try {
        answers.push(await via(stack, workflowId));
      } catch (e) {
        answers.push({ at: Date.now(), via: via === startViaRest ? 'rest' : 'trpc', status: -1, retryAfter: String(e), executionId: null });
      }
      await Bun.sleep(intervalMs);
    }
  })();
  return {
    answers,
    accepted: () => answers.filter(acknowledged).map((a) => a.executionId!),
    async stop() {
      running = false;
      await loop;
    },
  };
}
