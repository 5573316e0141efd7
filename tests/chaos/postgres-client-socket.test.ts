import { describe, expect, it } from 'bun:test';
import { adminDatabaseUrl } from '../support/test-database.ts';

describe('the Postgres client when the server cuts a connection', () => {
  it('rejects the next query with CONNECTION_CLOSED instead of crashing the process (patched postgres.js)', async () => {
    const proc = Bun.spawn(['bun', 'tests/support/postgres-reserved-close.ts', adminDatabaseUrl], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    clearTimeout(timer);
    expect({ code, out: out.trim(), crashed: err.includes("evaluating 'socket.write'") }).toEqual({ code: 0, out: 'alive rejected: CONNECTION_CLOSED', crashed: false });
  });
});
