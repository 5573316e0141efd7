import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { usageError } from './cli-errors.ts';

/**
 * Profiles (server URL + token) in `$MC_CONFIG_DIR/config.json`, else
 * `$XDG_CONFIG_HOME/mc/config.json`, else `~/.config/mc/config.json`. The file holds tokens, so
 * it is written 0600 in a 0700 directory, and a token is only ever sent to its own server.
 */

const profileSchema = z.object({ server: z.string().url(), token: z.string().optional() });
const configSchema = z.object({
  currentProfile: z.string().optional(),
  profiles: z.record(z.string(), profileSchema).default({}),
});
export type CliConfig = z.infer<typeof configSchema>;
export type Profile = z.infer<typeof profileSchema>;

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';

export function configDir(env: Record<string, string | undefined>): string {
  if (env.MC_CONFIG_DIR) return env.MC_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'mc');
}

export function configPath(env: Record<string, string | undefined>): string {
  return join(configDir(env), 'config.json');
}

function isMissing(e: unknown): boolean {
  return e instanceof Error && 'code' in e && e.code === 'ENOENT';
}

export async function loadConfig(env: Record<string, string | undefined>): Promise<CliConfig> {
  const path = configPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isMissing(e)) return { profiles: {} };
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw usageError(`${path} is not valid JSON`, 'fix it by hand, or delete it and run `mc login` again');
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw usageError(`${path}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`, 'fix it by hand, or delete it and run `mc login` again');
  }
  return parsed.data;
}

/** Writes through a temp file and a rename, so a crash never leaves half a config. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function saveConfig(env: Record<string, string | undefined>, config: CliConfig): Promise<string> {
  const path = configPath(env);
  await writePrivateFile(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

export function normaliseServer(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`--server ${url} is not a URL`, 'use e.g. --server http://127.0.0.1:3000');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`--server ${url} must be http:// or https://`);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

export interface Target {
  server: string;
  token: string | undefined;
  profileName: string;
}

/**
 * Which server and token a command uses: --server, else the profile's server, else MC_SERVER,
 * else the local default. The profile is --profile, else MC_PROFILE, else the current one; if
 * --server names another server, the profile saved for that server (if any) supplies the token.
 */
export function resolveTarget(config: CliConfig, flags: { server?: string; profile?: string }, env: Record<string, string | undefined>): Target {
  const explicitProfile = flags.profile ?? env.MC_PROFILE;
  const profileName = explicitProfile ?? config.currentProfile ?? 'default';
  if (explicitProfile && !config.profiles[explicitProfile] && !flags.server) {
    throw usageError(`no profile named "${explicitProfile}"`, `create it with: mc login --server URL --token TOKEN --profile ${explicitProfile}`);
  }
  let profile = config.profiles[profileName];
  const server = normaliseServer(flags.server ?? profile?.server ?? env.MC_SERVER ?? DEFAULT_SERVER);
  if (profile && normaliseServer(profile.server) !== server) {
    // Never send one server's token to another.
    const forServer = explicitProfile ? undefined : Object.entries(config.profiles).find(([, p]) => normaliseServer(p.server) === server);
    profile = forServer?.[1];
    return { server, token: env.MC_TOKEN || profile?.token, profileName: forServer?.[0] ?? profileName };
  }
  return { server, token: env.MC_TOKEN || profile?.token, profileName };
}
