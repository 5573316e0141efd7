import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { executionLogs } from '../db/schema.ts';
import { appendLogs } from './repository.ts';

export type LogLine = typeof executionLogs.$inferInsert;

interface Waiting {
  line: LogLine;
  resolve(): void;
  reject(reason: unknown): void;
}

// Any number of lines in one statement of fixed text (one parameter: the lines as JSON), so it is
// prepared once per connection however many lines a group holds.
const insertLines = fixedStatement<'lines'>(
  () => sql`insert into ${executionLogs} (tenant_id, execution_id, task_id, attempt, level, message, data)
    select r.tenant_id, r.execution_id, r.task_id, r.attempt, r.level, r.message, r.data
    from jsonb_to_recordset(${sql.placeholder('lines')}::jsonb)
      as r(ord int, tenant_id uuid, execution_id uuid, task_id text, attempt int, level text, message text, data jsonb)
    order by r.ord`,
);

/**
 * Step log lines, written as a database groups commits: a line that finds fewer than `maxOpen`
 * writes under way goes out at once, alone (a task logging at low load waits for nothing more
 * than its own insert); lines that come meanwhile wait and go out together, in one insert, up to
 * `maxGroup`. Under load one statement (one commit, one WAL flush) carries many tasks' lines
 * instead of one each. Every caller's promise settles when its own line is stored; a group that
 * fails is written again line by line, so a line that cannot be stored fails alone.
 */
export class LogLineGroup {
  private readonly waiting: Waiting[] = [];
  private open = 0;

  constructor(
    private readonly db: Database,
    private readonly maxOpen = 2,
    private readonly maxGroup = 200,
  ) {}

  append(line: LogLine): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ line, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.open < this.maxOpen && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxGroup);
      this.open++;
      void this.write(group).finally(() => {
        this.open--;
        this.pump();
      });
    }
  }

  private async write(group: Waiting[]): Promise<void> {
    if (group.length > 1) {
      try {
        await insertLines(this.db, {
          lines: JSON.stringify(
            group.map(({ line }, i) => ({
              ord: i,
              tenant_id: line.tenantId,
              execution_id: line.executionId,
              task_id: line.taskId ?? null,
              attempt: line.attempt ?? null,
              level: line.level,
              message: line.message,
              // Absent, not JSON null: a line without data stores SQL NULL, as a line written alone does.
              ...(line.data === null || line.data === undefined ? {} : { data: line.data }),
            })),
          ),
        });
        for (const w of group) w.resolve();
        return;
      } catch {
        // One line may be what failed the group: each is written alone and settles on its own.
      }
    }
    await Promise.all(group.map((w) => appendLogs(this.db, [w.line]).then(w.resolve, w.reject)));
  }
}

const groups = new WeakMap<Database, LogLineGroup>();

/** The database's log line group: one per database, made on first use. */
export function logLineGroupOf(db: Database): LogLineGroup {
  let group = groups.get(db);
  if (!group) groups.set(db, (group = new LogLineGroup(db)));
  return group;
}
