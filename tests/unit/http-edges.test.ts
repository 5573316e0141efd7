import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { z } from 'zod';
import { AppError } from '@mc/shared/errors';
import { loadConfig, ConfigError } from '@mc/shared/config';
import { parseTraceparent, traceContextFrom } from '@mc/shared/trace-context';
import { decodeCursor, encodeCursor } from '@mc/server/http/cursor';
import { errorBody, httpStatusOf, toAppError, trpcCodeOf } from '@mc/server/http/error-mapping';

describe('cursors', () => {
  it('round-trip and reject anything else with a validation error', () => {
    const pos = { createdAt: new Date('2026-01-02T03:04:05.678Z'), id: '0b2a2c5e-1f5e-4c3a-9d53-6a3f0a0e0c11' };
    expect(decodeCursor(encodeCursor(pos))).toEqual(pos);
    expect(decodeCursor(null)).toBeNull();
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          decodeCursor(s || 'x');
        } catch (e) {
          expect(e).toBeInstanceOf(AppError);
          expect((e as AppError).code).toBe('VALIDATION');
        }
      }),
    );
  });
});

describe('error mapping', () => {
  it('maps every code to an HTTP status and a tRPC code', () => {
    for (const code of Object.keys(httpStatusOf) as (keyof typeof httpStatusOf)[]) expect(trpcCodeOf[code]).toBeDefined();
    expect(httpStatusOf.POLICY_DENIED).toBe(403);
    expect(httpStatusOf.UNAVAILABLE).toBe(503);
  });

  it('turns connection failures into UNAVAILABLE and the unknown into a bare INTERNAL', () => {
    expect(toAppError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).code).toBe('UNAVAILABLE');
    expect(toAppError(new Error('wrapped', { cause: { code: '57P01' } })).code).toBe('UNAVAILABLE');
    expect(toAppError(new Error('Connection is closed.')).code).toBe('UNAVAILABLE');
    const internal = toAppError(new Error('secret detail at /srv/app.ts:12'));
    expect(internal.code).toBe('INTERNAL');
    expect(JSON.stringify(errorBody(internal))).not.toContain('secret detail');
    const zodErr = z.object({ a: z.number() }).safeParse({ a: 'x' }).error!;
    expect(toAppError(zodErr).issues).toEqual([{ path: 'a', message: expect.any(String) }]);
  });
});

describe('config', () => {
  it('fills defaults and names the bad variable', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/db' });
    expect(c.PORT).toBe(3000);
    expect(c.MC_DEFAULT_REGION).toBe('us');
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/db', PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(loadConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/db', MC_HTTP_ALLOWED_HOSTS: 'a.test, b.test:8080' }).MC_HTTP_ALLOWED_HOSTS).toEqual(['a.test', 'b.test:8080']);
  });
});

describe('trace context', () => {
  it('continues a valid traceparent and starts a new trace otherwise', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(traceContextFrom(tp)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', sampled: true });
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeNull();
    fc.assert(fc.property(fc.string(), (s) => expect(traceContextFrom(s).traceId).toMatch(/^[0-9a-f]{32}$/)));
  });
});
