import type { ApiClient } from './api-client.ts';
import type { CommandSpec } from './command-line.ts';
import type { CliConfig, Target } from './config-store.ts';
import type { Output } from './output.ts';

/** What every command gets: output, environment, and lazily the config, target server and API client. */
export interface Context {
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
  globals: { server?: string; profile?: string; json: boolean };
  config(): Promise<CliConfig>;
  target(): Promise<Target>;
  api(): Promise<ApiClient>;
}

export type Command = CommandSpec<Context>;

export function stringValue(v: string | boolean | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function listValue(v: string | boolean | string[] | undefined): string[] {
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
