/**
 * The API token the dashboard signs in with, kept for this tab only (sessionStorage: gone when
 * the tab closes, never sent to other origins). Every tRPC request carries it as a bearer token.
 */
const key = 'mc.apiToken';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(key, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(key);
}
