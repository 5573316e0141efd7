import { PgTransaction } from 'drizzle-orm/pg-core';
import { CallGroups } from '../groups/call-groups.ts';
import type { Queryable } from './client.ts';

interface Waiting<K, V> {
  key: K;
  resolve(value: V | undefined): void;
  reject(reason: unknown): void;
}

/**
 * Reads by key, grouped as a database groups commits: a read asked for while `maxOpen` reads are
 * under way waits, and the next read takes every key waiting (one statement, `= any(…)`), so under
 * load one round trip serves many requests, and an idle process reads at once, alone.
 *
 * Unlike `sharedRead`, a caller never joins a read that started before it asked: each statement
 * goes out after all of its callers arrived, so it sees every commit made before any of them
 * asked — a token revoked before a request came is read revoked, as a read of its own would.
 * For reads on the pool only (a transaction must read what it wrote itself).
 */
export class ReadGroup<K, V> {
  private readonly groups: CallGroups<Waiting<K, V>>;

  constructor(
    private readonly readMany: (keys: K[]) => Promise<Map<K, V>>,
    opts: { maxOpen?: number; maxGroup?: number } = {},
  ) {
    this.groups = new CallGroups((group) => this.readGroup(group), { maxOpen: opts.maxOpen ?? 1, maxGroup: opts.maxGroup ?? 64 });
  }

  /** The value read for `key`, or undefined when there is none. */
  read(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => this.groups.add({ key, resolve, reject }));
  }

  private async readGroup(group: Waiting<K, V>[]): Promise<void> {
    try {
      const found = await this.readMany([...new Set(group.map((w) => w.key))]);
      for (const w of group) w.resolve(found.get(w.key));
    } catch (e) {
      for (const w of group) w.reject(e);
    }
  }
}

const groupsOf = new WeakMap<object, Map<string, object>>();

/**
 * `db`'s read group named `name` (one per database and kind of read), or null on a transaction,
 * which reads for itself.
 */
export function readGroupOf<K, V>(db: Queryable, name: string, readMany: (keys: K[]) => Promise<Map<K, V>>): ReadGroup<K, V> | null {
  if (db instanceof PgTransaction) return null;
  let groups = groupsOf.get(db);
  if (!groups) groupsOf.set(db, (groups = new Map()));
  let group = groups.get(name) as ReadGroup<K, V> | undefined;
  if (!group) groups.set(name, (group = new ReadGroup(readMany)));
  return group;
}
