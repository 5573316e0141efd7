import type { SecretProvider } from './secret-provider.ts';

/** Asks each provider in order; the first that has the secret wins. A provider that fails stops the chain (no silent fallback). */
export function createChainSecretProvider(providers: readonly SecretProvider[]): SecretProvider {
  return {
    async get(name) {
      for (const p of providers) {
        const value = await p.get(name);
        if (value !== undefined) return value;
      }
      return undefined;
    },
  };
}
