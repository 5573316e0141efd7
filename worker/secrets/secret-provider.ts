import { secretNamePattern } from '@mc/shared/templates';

/**
 * Where the worker gets secret values at run time. Only the worker holds a provider: the server
 * never sees a value, and nothing stores one (manifests keep `${{ secrets.NAME }}`; task outputs
 * and step logs are masked with `secret-masking.ts`).
 *
 * `get` answers undefined for a secret the provider does not have, and throws only when the
 * backend itself fails (a read error, Vault down): that is an infrastructure fault, retried
 * without spending the task's attempts, not a missing secret.
 */
export interface SecretProvider {
  get(name: string): Promise<string | undefined>;
}

export class InvalidSecretNameError extends Error {}

/** Names reach file paths and env var names: anything but `[A-Z][A-Z0-9_]*` is refused outright. */
export function assertSecretName(name: string): void {
  if (!secretNamePattern.test(name)) throw new InvalidSecretNameError(`"${name}" is not a valid secret name ([A-Z][A-Z0-9_]*)`);
}

/**
 * The values for `names` that the provider has, as the `secrets` map of a template scope. Missing
 * names are left out: template expansion then fails with `secret NAME is not set`.
 */
export async function resolveSecrets(provider: SecretProvider, names: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) {
    assertSecretName(name);
    const value = await provider.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
