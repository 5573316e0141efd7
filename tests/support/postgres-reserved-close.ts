/**
 * Run as a child process by tests/chaos/postgres-client-socket.test.ts: a reserved connection
 * whose backend is terminated, then written to. Unpatched, postgres.js throws from a setImmediate
 * callback (`socket.write` on a null socket) and the process dies; patched
 * (patches/postgres@3.4.9.patch) the query rejects with CONNECTION_CLOSED and the process lives.
 */
import postgres from 'postgres';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = postgres(url, { max: 1, onnotice: () => {} });
const sql = postgres(url, { max: 1, onnotice: () => {} });
const reserved = await sql.reserve();
const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
await admin`select pg_terminate_backend(${row!.pid})`;
await Bun.sleep(100);
let outcome = 'no error';
for (let i = 0; i < 3; i++) {
  try {
    await reserved`select 1`;
  } catch (e) {
    outcome = `rejected: ${(e as { code?: string }).code ?? (e as Error).message}`;
  }
}
console.log(`alive ${outcome}`);
await sql.end({ timeout: 1 });
await admin.end({ timeout: 1 });
