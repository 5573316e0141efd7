import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSecretName, type SecretProvider } from './secret-provider.ts';

/**
 * `${{ secrets.NAME }}` from the file `<dir>/NAME` (`MC_SECRETS_DIR`), the layout of Kubernetes
 * and Docker secret mounts. Read on every call, so a rotated file takes effect without a restart.
 * One trailing newline is dropped (`echo value > NAME` writes one); other whitespace is kept.
 * The name pattern has no `/` or `.`, so a name cannot leave the directory.
 */
export function createFileSecretProvider(dir: string): SecretProvider {
  return {
    async get(name) {
      assertSecretName(name);
      let text: string;
      try {
        text = await readFile(join(dir, name), 'utf8');
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw new Error(`could not read secret ${name} from MC_SECRETS_DIR: ${(e as NodeJS.ErrnoException).code ?? 'read error'}`);
      }
      const value = text.replace(/\r?\n$/, '');
      return value === '' ? undefined : value;
    },
  };
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
