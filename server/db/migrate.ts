import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Applies the generated migrations in `drizzle/`; idempotent, safe to run on every start. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    // Several processes may start at once (server + worker): one advisory lock serialises them.
    await sql`select pg_advisory_lock(727372)`;
    await migrate(drizzle(sql), { migrationsFolder });
    await sql`select pg_advisory_unlock(727372)`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
