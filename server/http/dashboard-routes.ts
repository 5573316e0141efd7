import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { Elysia } from 'elysia';
import { Hono } from 'hono';
import { serveStatic } from 'hono/bun';
import { AppError } from '@mc/shared/errors';
import { admit } from '../auth/admit.ts';
import type { Deps } from '../deps.ts';
import { receiptQueueName, taskQueueName } from '../queue/task-queues.ts';
import { landingPage } from './landing-page.ts';
import { sessionCookieName } from './session-cookie.ts';

/** Where `bun run build:web` (web/build-web.ts) writes the dashboard. */
export const webBuildDir = join(import.meta.dir, '..', '..', 'web', 'build');
const appDir = join(webBuildDir, '_app');
const queuesPath = '/queues';

/** Paths that belong to the API and operations, never to the dashboard's client-side routes. */
const reservedPrefixes = ['/api', '/trpc', '/healthz', '/readyz', '/metrics', queuesPath, '/_app'];
const isReserved = (pathname: string) => reservedPrefixes.some((p) => pathname === p || pathname.startsWith(`${p}/`));

const baseHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/**
 * The page shell (200.html) with a CSP that allows exactly the inline code the build ships and
 * nothing else: Kit starts the app from one inline <script>, and its root component renders one
 * `style="…"` attribute (the screen-reader route announcer). Their sha256 hashes go into the
 * policy instead of 'unsafe-inline'. Re-read when the build changes, so a rebuild needs no restart.
 */
interface Shell {
  html: string;
  csp: string;
  mtimeMs: number;
}
let shellCache: Shell | undefined;

function loadShell(): Shell | null {
  const file = join(webBuildDir, '200.html');
  if (!existsSync(file)) return null;
  const mtimeMs = statSync(file).mtimeMs;
  if (shellCache?.mtimeMs === mtimeMs) return shellCache;
  const html = readFileSync(file, 'utf8');
  const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`,
  );
  const styleHashes = [...new Set(inlineStyleAttributes(join(appDir, 'immutable')))].map(
    (style) => `'sha256-${createHash('sha256').update(style).digest('base64')}'`,
  );
  const csp = [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')}`.trim(),
    // 'unsafe-hashes' lets the listed style attributes apply; any other inline style is refused.
    styleHashes.length > 0 ? `style-src 'self' 'unsafe-hashes' ${styleHashes.join(' ')}` : "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  shellCache = { html, csp, mtimeMs };
  return shellCache;
}

/** The static `style="…"` attribute values in the built JavaScript (Svelte templates are strings there). */
function inlineStyleAttributes(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...inlineStyleAttributes(path));
    else if (entry.name.endsWith('.js')) {
      for (const m of readFileSync(path, 'utf8').matchAll(/style=\\?"([^"\\$]*)\\?"/g)) if (m[1]) found.push(m[1]);
    }
  }
  return found;
}

function shellResponse(shell: Shell): Response {
  return new Response(shell.html, {
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': shell.csp, ...baseHeaders },
  });
}

/** A file under web/build/_app, or null for anything outside it (no `..` escapes). */
function appFile(pathname: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice('/_app/'.length));
  } catch {
    return null;
  }
  const full = normalize(join(appDir, rel));
  return full.startsWith(appDir + sep) ? full : null;
}


/** The request with `Authorization` taken from the session cookie when the header is absent. */
function withSessionCookie(request: Request): Request {
  if (request.headers.get('authorization')) return request;
  const cookie = request.headers.get('cookie') ?? '';
  const token = cookie
    .split(';')
    .map((c) => c.trim().split('='))
    .find(([k]) => k === sessionCookieName)?.[1];
  if (!token) return request;
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${decodeURIComponent(token)}`);
  return new Request(request, { headers });
}

/** bull-board over the task queues and the receipt queue, as a Hono app under /queues. */
function bullBoard(deps: Deps): Hono {
  const adapter = new HonoAdapter(serveStatic).setBasePath(queuesPath);
  const queues = [...deps.config.WORKER_RUNNER_CLASSES.map((rc) => deps.queues.queueFor(rc)), deps.queues.receipts()];
  // The names are those of server/queue/task-queues.ts; assert it so a rename shows up here.
  const expected = new Set([...deps.config.WORKER_RUNNER_CLASSES.map(taskQueueName), receiptQueueName]);
  for (const q of queues) if (!expected.has(q.name)) throw new Error(`bull-board: unexpected queue name ${q.name}`);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'MC queues' } },
  });
  return new Hono().route(queuesPath, adapter.registerPlugin());
}

/**
 * Everything the server does for the dashboard: the static build (web/build, see
 * web/build-web.ts), bull-board at /queues (admin only), and a `GET /*` fallback to the SPA shell
 * for client-side routes that leaves the API and operations paths alone. Without a build, `/`
 * serves the landing page instead.
 */
export function dashboardRoutes(deps: Deps) {
  let board: Hono | undefined;
  const queues = async ({ request, server }: { request: Request; server: { requestIP(r: Request): { address: string } | null } | null }) => {
    // A browser navigating to /queues sends no Authorization header: the session cookie that
    // POST /api/session sets (HttpOnly, SameSite=Strict, Path=/queues) stands in for it.
    await admit(deps, withSessionCookie(request), server?.requestIP(request)?.address, 'admin');
    // Built on first use: the queues connect to Redis only when someone looks.
    board ??= bullBoard(deps);
    const res = await board.fetch(request);
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(baseHeaders)) headers.set(k, v);
    if (!(headers.get('content-type') ?? '').includes('text/html')) return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    // bull-board's page links Google Fonts: dropped, so an admin's browser calls no third party
    // (and offline installs log no failed request). The UI falls back to system fonts.
    headers.delete('content-length');
    const html = (await res.text()).replace(/<link[^>]+fonts\.(googleapis|gstatic)\.com[^>]*>/g, '');
    return new Response(html, { status: res.status, statusText: res.statusText, headers });
  };

  return new Elysia({ name: 'mc-dashboard' })
    // Each method on its own: an `.all` would lose GETs to the `GET /*` fallback below (STACK-NOTES).
    .get(queuesPath, queues)
    .get(`${queuesPath}/*`, queues)
    .post(`${queuesPath}/*`, queues)
    .put(`${queuesPath}/*`, queues)
    .patch(`${queuesPath}/*`, queues)
    .delete(`${queuesPath}/*`, queues)
    .get('/_app/*', ({ request }) => {
      const pathname = new URL(request.url).pathname;
      const file = appFile(pathname);
      if (!file || !existsSync(file) || !statSync(file).isFile()) throw new AppError('NOT_FOUND', `no such file ${pathname}`);
      const body = Bun.file(file);
      return new Response(body, {
        headers: {
          'content-type': body.type,
          // Hashed file names under immutable/ never change; the rest (version.json) is revalidated.
          'cache-control': pathname.startsWith('/_app/immutable/') ? 'public, max-age=31536000, immutable' : 'no-cache',
          ...baseHeaders,
        },
      });
    })
    .get('/', () => {
      const shell = loadShell();
      if (shell) return shellResponse(shell);
      return new Response(landingPage(), { headers: { 'content-type': 'text/html; charset=utf-8', ...baseHeaders } });
    })
    .get('/*', ({ request }) => {
      const pathname = new URL(request.url).pathname;
      const shell = loadShell();
      if (!shell || isReserved(pathname)) throw new AppError('NOT_FOUND', 'no such route; see /api/openapi.json');
      return shellResponse(shell);
    });
}
