import type { Database } from '../db/client.ts';
import { CallGroups } from '../groups/call-groups.ts';
import { executionLogs } from '../db/schema.ts';
import { appendLogs } from './repository.ts';

export type LogLine = typeof executionLogs.$inferInsert;

interface Waiting {
  line: LogLine;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Step log lines, written as a database groups commits: a line that finds fewer than `maxOpen`
 * writes under way goes out at once, alone (a task logging at low load waits for nothing more
 * than its own insert); lines that come meanwhile wait and go out together, in one insert, up to
 * `maxGroup`. Under load one statement (one commit, one WAL flush) carries many tasks' lines
 * instead of one each (`appendLogs`). Every caller's promise settles when its own line is stored;
 * a group that fails is written again line by line, so a line that cannot be stored fails alone.
 */
export class LogLineGroup {
  private readonly groups: CallGroups<Waiting>;

  constructor(
    private readonly db: Database,
    maxOpen = 2,
    maxGroup = 200,
  ) {
    this.groups = new CallGroups((group) => this.write(group), { maxOpen, maxGroup });
  }

  append(line: LogLine): Promise<void> {
    return new Promise<void>((resolve, reject) => this.groups.add({ line, resolve, reject }));
  }

  private async write(group: Waiting[]): Promise<void> {
    if (group.length > 1) {
      try {
        await appendLogs(this.db, group.map((w) => w.line));
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
