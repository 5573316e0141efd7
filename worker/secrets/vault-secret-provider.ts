import { assertSecretName, type SecretProvider } from './secret-provider.ts';

/**
 * A thin adapter over ONE call of HashiCorp Vault's KV version 2 HTTP API:
 * `GET {VAULT_ADDR}/v1/{mount}/data/{path}` with `X-Vault-Token`, whose answer is
 * `{ "data": { "data": { NAME: value, … }, "metadata": … } }`; `${{ secrets.NAME }}` is the key
 * NAME of that one secret. It is tested against a local `Bun.serve` that speaks only that call,
 * not against a real Vault. It does not log in (no AppRole, Kubernetes or OIDC auth: the token is
 * given), renew or revoke tokens, read secret versions, or speak KV version 1.
 */
export interface VaultSecretProviderOptions {
  /** `VAULT_ADDR`, e.g. `https://vault.internal:8200`. */
  address: string;
  /** `VAULT_TOKEN`; sent only as `X-Vault-Token`, never logged or put in an error. */
  token: string;
  /** The KV v2 mount, e.g. `secret`. */
  mount: string;
  /** The secret's path under the mount, e.g. `mc/prod`. */
  path: string;
  /** `VAULT_NAMESPACE` (Vault Enterprise), sent as `X-Vault-Namespace` when set. */
  namespace?: string;
  /** How long one read serves every name (one request per step, not one per name). */
  cacheTtlMs?: number;
  timeoutMs?: number;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export function createVaultSecretProvider(opts: VaultSecretProviderOptions): SecretProvider {
  const doFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  const segments = (p: string) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const url = `${opts.address.replace(/\/+$/, '')}/v1/${segments(opts.mount)}/data/${segments(opts.path)}`;
  const ttl = opts.cacheTtlMs ?? 10_000;
  let cached: { at: number; data: Promise<Record<string, unknown> | null> } | null = null;

  async function read(): Promise<Record<string, unknown> | null> {
    const headers: Record<string, string> = { 'x-vault-token': opts.token };
    if (opts.namespace) headers['x-vault-namespace'] = opts.namespace;
    let res: Response;
    try {
      res = await doFetch(url, { headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000) });
    } catch (e) {
      throw new Error(`vault unreachable at ${opts.address}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res.status === 404) return null; // no secret at that path (or it was deleted): every name is unset
    if (res.status === 403) throw new Error(`vault refused to read ${opts.mount}/${opts.path} (permission denied; check the token's policy)`);
    if (!res.ok) throw new Error(`vault answered HTTP ${res.status} reading ${opts.mount}/${opts.path}`);
    const body = (await res.json()) as { data?: { data?: unknown } } | null;
    const data = body?.data?.data;
    if (data === null || data === undefined) return null; // KV v2 answers data: null for a deleted version
    if (typeof data !== 'object' || Array.isArray(data)) throw new Error('vault answered a body that is not a KV v2 secret');
    return data as Record<string, unknown>;
  }

  return {
    async get(name) {
      assertSecretName(name);
      if (!cached || Date.now() - cached.at >= ttl) {
        const entry = { at: Date.now(), data: read() };
        cached = entry;
        // A failed read is not cached: the next step tries again.
        entry.data.catch(() => {
          if (cached === entry) cached = null;
        });
      }
      const data = await cached.data;
      const value = data && Object.hasOwn(data, name) ? data[name] : undefined;
      if (typeof value === 'string') return value === '' ? undefined : value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return undefined;
    },
  };
}
