import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMc, type McRun } from '../support/cli-runner.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Issue 8 through the `mc` command: an admin makes, lists and revokes API tokens as a child
 * process (`bun cli/main.ts …`) against a real server listening on loopback.
 */


let stack: TestStack;
let server: string;
let dir: string;
let configDir: string;

type Run = McRun;

const mc = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  runMc(args, { cwd: dir, env: { HOME: dir, MC_CONFIG_DIR: configDir, MC_SERVER: server, MC_TOKEN: stack.adminToken, ...env } });

const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  stack = await startTestStack();
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${stack.app.server?.port}`;
  dir = mkdtempSync(join(tmpdir(), 'mc-cli-tokens-'));
  configDir = join(dir, 'config');
});

afterAll(async () => {
  await stack.app.stop();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mc tokens', () => {
  it('creates an operator token that works, lists it without the secret, and revokes it', async () => {
    const name = uniqueName('ci-operator');
    const created = await mc(['tokens', 'create', '--name', name, '--role', 'operator', '--expires-days', '7']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/store this token now/i);
    expect(created.stdout).toMatch(/shown only this once/i);
    const token = /^(mc_\S+)$/m.exec(created.stdout)?.[1];
    expect(token).toBeString();
    const id = /^\s+id\s+([0-9a-f-]{36})$/m.exec(created.stdout)?.[1];
    expect(id).toBeString();

    const asNew = await mc(['executions', 'list'], { MC_TOKEN: token! });
    expect(asNew.code).toBe(0);

    const list = await mc(['tokens', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(name);
    expect(list.stdout).toContain(id!);
    expect(list.stdout).toContain(`${token!.slice(0, 10)}…`);
    expect(list.stdout).not.toContain(token!);
    const listJson = await mc(['tokens', 'list', '--json']);
    expect(listJson.stdout).not.toContain(token!);
    const row = (JSON.parse(listJson.stdout) as { id: string; role: string; revokedAt: string | null; lastUsedAt: string | null }[]).find((t) => t.id === id);
    expect(row).toMatchObject({ role: 'operator', revokedAt: null });

    const revoked = await mc(['tokens', 'revoke', id!]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked token ${name}`);
    expect((await mc(['tokens', 'list'])).stdout).toMatch(new RegExp(`${name}.*revoked`));

    const refused = await mc(['executions', 'list'], { MC_TOKEN: token! });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('this API token was revoked');
  });

  it('prints the whole object, token included, with --json', async () => {
    const r = await mc(['tokens', 'create', '--name', uniqueName('json'), '--role', 'viewer', '--json']);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as { token: string; role: string; tokenPrefix: string; expiresAt: string | null };
    expect(t).toMatchObject({ role: 'viewer', expiresAt: null });
    expect(t.token.startsWith(t.tokenPrefix)).toBe(true);
  });

  it('refuses bad flags (exit 2), a non-admin (exit 3) and an unknown id (exit 1)', async () => {
    expect((await mc(['tokens', 'create', '--name', 'x', '--role', 'root'])).code).toBe(2);
    expect((await mc(['tokens', 'create', '--role', 'viewer'])).code).toBe(2);
    expect((await mc(['tokens', 'create', '--name', 'x', '--role', 'viewer', '--expires-days', '0'])).code).toBe(2);
    const operator = await stack.tokenFor('operator');
    const denied = await mc(['tokens', 'list'], { MC_TOKEN: operator });
    expect(denied.code).toBe(3);
    const missing = await mc(['tokens', 'revoke', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  });
});
