import { z } from 'zod';

export const roleSchema = z.enum(['admin', 'operator', 'composer', 'viewer']);
export type Role = z.infer<typeof roleSchema>;

/** Who is making a request; recorded on every row and event it causes, and the scope of every query. */
export interface Actor {
  sub: string;
  role: Role;
  tenantId: string;
  tenantName: string;
  /** How the caller proved who they are. */
  method: 'token' | 'oidc' | 'anonymous' | 'system';
  /** For OIDC callers: whether the token is fresh or strong enough for publish and execute. */
  stepUp: boolean;
  tokenId?: string;
  ip?: string;
}
