import { clearToken, getToken, setToken } from './auth-token.ts';
import { toShownError, type ShownError } from './errors.ts';
import { api } from './trpc.ts';

/** The current actor (from `auth.me`), loaded by the layout and read by every page. */
export const session = $state<{
  sub: string | null;
  role: string | undefined;
  tenant: string | null;
  method: string | null;
  error: ShownError | null;
  loaded: boolean;
}>({ sub: null, role: undefined, tenant: null, method: null, error: null, loaded: false });

export async function loadSession(): Promise<void> {
  try {
    const me = await api.auth.me.query();
    session.sub = me.sub;
    session.role = me.role;
    session.tenant = me.tenant;
    session.method = me.method;
    session.error = null;
  } catch (e) {
    session.sub = null;
    session.role = undefined;
    session.error = toShownError(e);
  } finally {
    session.loaded = true;
  }
}

/** Whether the server wants a credential before it answers anything. */
export const needsSignIn = () => session.loaded && session.error?.code === 'UNAUTHORIZED';

export async function signIn(token: string): Promise<void> {
  setToken(token.trim());
  await loadSession();
  if (session.error) {
    clearToken();
    return;
  }
  // The queue dashboard (/queues) is a plain page load, which sends no Authorization header:
  // the server turns this token into an HttpOnly cookie scoped to that path.
  await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${token.trim()}` } });
}

export async function signOut(): Promise<void> {
  clearToken();
  await fetch('/api/session', { method: 'DELETE' });
  await loadSession();
}

export const hasToken = () => getToken() !== null;
