import { createHash } from 'node:crypto';

/**
 * The event bus of spec §4 (`topics.yaml`: bus `mc-events`, 12 partitions, 30 days) on Redis
 * Streams: one stream per partition, keyed by workflow id so one workflow's events stay in order.
 * docs/audit/topics.yaml says the same; a unit test keeps the two equal.
 */
export const eventBus = { name: 'mc-events', partitions: 12, retentionDays: 30 } as const;

/** `${prefix}:mc-events:<partition>` */
export function eventStreamKey(prefix: string, partition: number): string {
  return `${prefix}:${eventBus.name}:${partition}`;
}

/**
 * partition = hash(key) % 12, with the first 4 bytes of sha256 as the hash: stable across
 * processes and languages. The key is the workflow id; an event without one (none of v1's types
 * today) falls back to its tenant id.
 */
export function eventPartition(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % eventBus.partitions;
}

/** The fields of one stream entry: consumers dedupe by `id` and order by `seq`. */
export interface EventStreamEntry {
  /** The audit row's sequence number (global, gap-tolerant, increasing per partition). */
  seq: string;
  /** The event id (uuid): the same id as in Postgres. */
  id: string;
  type: string;
  tenant: string;
  /** The event as JSON, exactly the mc.events.v1 object. */
  event: string;
}
