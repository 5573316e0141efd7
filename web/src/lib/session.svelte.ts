import { api } from './trpc.ts';
import { toShownError, type ShownError } from './errors.ts';

/** The current actor (from `auth.me`), loaded once by the layout and read by every page. */
export const session = $state<{ sub: string | null; role: string | undefined; error: ShownError | null; loaded: boolean }>({
  sub: null,
  role: undefined,
  error: null,
  loaded: false,
});

export async function loadSession(): Promise<void> {
  try {
    const me = await api.auth.me.query();
    session.sub = me.sub;
    session.role = me.role;
    session.error = null;
  } catch (e) {
    session.error = toShownError(e);
  } finally {
    session.loaded = true;
  }
}
