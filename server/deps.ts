import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '@mc/shared/config';
import type { SigningKey } from '@mc/shared/receipt-signing';
import type { Database } from './db/client.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import type { Pdp } from './policy/pdp.ts';
import type { TaskQueues } from './queue/task-queues.ts';
import type { ObjectStore } from './storage/object-store.ts';

/** An OIDC bearer-token verifier (server/auth/oidc-verifier.ts), present when MC_OIDC_ISSUER is set. */
export interface OidcAuthenticator {
  verify(token: string): Promise<{ sub: string; tenant: string; role: 'admin' | 'operator' | 'composer' | 'viewer' }>;
  satisfiesStepUp(identity: { sub: string; tenant: string; role: string }): boolean;
  stepUpChallenge(): string;
}

/** What services need, built once per process (server or worker) and passed down. */
export interface Deps {
  config: Config;
  db: Database;
  /** Producer connection: fails fast so requests never hang on a Redis outage. */
  redis: Redis;
  queues: TaskQueues;
  objectStore: ObjectStore;
  signingKey: SigningKey;
  logger: Logger;
  pdp: Pdp;
  oidc: OidcAuthenticator | null;
  rateLimiter: RateLimiter;
}
