import { createChainSecretProvider } from './chain-secret-provider.ts';
import { createEnvSecretProvider } from './env-secret-provider.ts';
import { createFileSecretProvider } from './file-secret-provider.ts';
import type { SecretProvider } from './secret-provider.ts';
import { createVaultSecretProvider, type VaultSecretProviderOptions } from './vault-secret-provider.ts';

export interface SecretSources {
  /** `MC_SECRETS_DIR`: one file per secret. */
  secretsDir?: string | undefined;
  /** Where `MC_SECRET_<NAME>` is read (process.env in production). */
  env: Record<string, string | undefined>;
  /** Set when `VAULT_ADDR` is configured. */
  vault?: VaultSecretProviderOptions | undefined;
}

/** The worker's provider: the secrets directory first, then Vault (when configured), then the environment. */
export function createSecretProvider(sources: SecretSources): SecretProvider {
  const chain: SecretProvider[] = [];
  if (sources.secretsDir) chain.push(createFileSecretProvider(sources.secretsDir));
  if (sources.vault) chain.push(createVaultSecretProvider(sources.vault));
  chain.push(createEnvSecretProvider(sources.env));
  return createChainSecretProvider(chain);
}
