/**
 * What each role may do, for hiding buttons. The server is the authority and refuses the rest;
 * this only keeps the dashboard from offering what would be refused.
 */
export type DashboardAction = 'read' | 'create' | 'publish' | 'plan' | 'execute' | 'admin';

const grants: Record<string, readonly DashboardAction[]> = {
  admin: ['read', 'create', 'publish', 'plan', 'execute', 'admin'],
  operator: ['read', 'plan', 'execute'],
  composer: ['read', 'plan', 'create', 'publish'],
  viewer: ['read'],
};

export function can(role: string | undefined, action: DashboardAction): boolean {
  return role !== undefined && (grants[role]?.includes(action) ?? false);
}
