import { describe, expect, it } from 'bun:test';
import { rowOf } from '@mc/server/db/raw-rows';
import { executionDataKeys } from '@mc/server/db/schema';

// rowOf keeps each table's column list per prefix: the same table read under two prefixes (a
// claim's `k__` data key beside a plain read) must each find their own names.
describe('rowOf', () => {
  const raw = (prefix: string, executionId: string) => ({
    [`${prefix}execution_id`]: executionId,
    [`${prefix}tenant_id`]: 'tenant-1',
    [`${prefix}region`]: 'us',
    [`${prefix}wrapped_key`]: null,
    [`${prefix}master_key_id`]: 'mk-1',
    [`${prefix}created_at`]: '2026-12-07 04:00:00.123+00',
    [`${prefix}erased_at`]: '2026-12-07 04:05:00+00',
  });

  it('maps snake_case names to keys and driver values as drizzle does, for each prefix', () => {
    const plain = rowOf(executionDataKeys, raw('', 'e-1'));
    const prefixed = rowOf(executionDataKeys, { ...raw('k__', 'e-2'), execution_id: 'not this one' }, 'k__');
    const plainAgain = rowOf(executionDataKeys, raw('', 'e-3'));
    expect(plain.executionId).toBe('e-1');
    expect(prefixed.executionId).toBe('e-2');
    expect(plainAgain.executionId).toBe('e-3');
    expect(prefixed.masterKeyId).toBe('mk-1');
    expect(prefixed.createdAt).toEqual(new Date('2026-12-07T04:00:00.123Z'));
    expect(prefixed.erasedAt).toEqual(new Date('2026-12-07T04:05:00Z'));
  });

  it('gives null for a column that is null or missing', () => {
    const row = rowOf(executionDataKeys, { execution_id: 'e-4', region: 'eu' });
    expect(row.wrappedKey).toBeNull();
    expect(row.erasedAt).toBeNull();
    expect(row.region).toBe('eu');
    expect(Object.keys(row).sort()).toEqual(['createdAt', 'erasedAt', 'executionId', 'masterKeyId', 'region', 'tenantId', 'wrappedKey']);
  });
});
