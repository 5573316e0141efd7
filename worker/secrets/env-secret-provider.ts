import { assertSecretName, type SecretProvider } from './secret-provider.ts';

export const envSecretPrefix = 'MC_SECRET_';

/** `${{ secrets.NAME }}` from the `MC_SECRET_NAME` environment variable (an empty value counts as unset). */
export function createEnvSecretProvider(env: Record<string, string | undefined> = process.env): SecretProvider {
  return {
    async get(name) {
      assertSecretName(name);
      const value = env[`${envSecretPrefix}${name}`];
      return value === undefined || value === '' ? undefined : value;
    },
  };
}
