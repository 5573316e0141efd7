import { describe, expect, it } from 'bun:test';
import { reconnectDelaySeconds } from '@mc/server/db/client';

// postgres.js's own default reaches 20 s after a handful of failed connects (a short outage
// under load), which kept a restarted database unused for 13–17 s in the Postgres chaos test.
describe('reconnectDelaySeconds', () => {
  it('starts small, grows with failures, and never waits more than a second', () => {
    for (let retries = 0; retries < 50; retries++) {
      for (let i = 0; i < 20; i++) {
        const d = reconnectDelaySeconds(retries);
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThanOrEqual(1);
      }
    }
    expect(reconnectDelaySeconds(1)).toBeLessThanOrEqual(0.1);
    expect(reconnectDelaySeconds(10)).toBeGreaterThanOrEqual(0.5);
  });
});
