import type { Actor } from '@mc/shared/actor';

/**
 * Who is calling. Identity (API tokens, OIDC) is not built yet: every caller is the local
 * operator with full rights, which is why the server binds to 127.0.0.1 by default. This is the
 * one place authentication will plug in.
 */
export function resolveActor(request: Request, ip: string | undefined): Actor {
  void request;
  return { sub: 'local-operator', role: 'admin', ...(ip ? { ip } : {}) };
}
