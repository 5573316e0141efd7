import { AppError } from '@mc/shared/errors';

/**
 * Keyset pagination over (created_at, id): a page costs the same whatever the table's size,
 * unlike OFFSET. The cursor is opaque to callers.
 */
export interface CursorPosition {
  createdAt: Date;
  id: string;
}

export function encodeCursor(pos: CursorPosition): string {
  return Buffer.from(JSON.stringify([pos.createdAt.toISOString(), pos.id])).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): CursorPosition | null {
  if (!cursor) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      const createdAt = new Date(parsed[0]);
      if (!Number.isNaN(createdAt.getTime()) && /^[0-9a-f-]{36}$/i.test(parsed[1])) return { createdAt, id: parsed[1] };
    }
  } catch (e) {
    throw new AppError('VALIDATION', 'cursor is not one this API issued; start from the first page', { issues: [{ path: 'cursor', message: 'malformed' }], cause: e });
  }
  throw new AppError('VALIDATION', 'cursor is not one this API issued; start from the first page', { issues: [{ path: 'cursor', message: 'malformed' }] });
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Fetch `limit + 1` rows, return `limit` and a cursor if there was one more. */
export function toPage<T extends { createdAt: Date; id: string }, V>(rows: T[], limit: number, view: (row: T) => V): Page<V> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items: items.map(view), nextCursor: more && last ? encodeCursor(last) : null };
}
