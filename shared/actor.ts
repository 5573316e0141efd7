import { z } from 'zod';

export const roleSchema = z.enum(['admin', 'operator', 'composer', 'viewer']);
export type Role = z.infer<typeof roleSchema>;

/** Who is making a request; recorded on every row and event it causes. */
export interface Actor {
  sub: string;
  role: Role;
  ip?: string;
}
