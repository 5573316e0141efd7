import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './cli-errors.ts';

/**
 * The `mc` argument parser: node:util parseArgs (strict) over a table of commands. Command words
 * come first after any global flags (`mc [--server URL] workflow list --json`); each command
 * declares its flags and how many positional arguments it takes.
 */

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean; description: string; valueName?: string };

export interface CommandSpec<C = unknown> {
  /** The command words, e.g. ['workflow', 'publish']. */
  words: string[];
  /** What follows the words, e.g. '<workflowId>' or '[id]'. */
  args: string;
  minArgs: number;
  maxArgs: number;
  summary: string;
  options: Record<string, OptionSpec>;
  run(ctx: C, input: ParsedCommand): Promise<number>;
}

export interface ParsedCommand {
  words: string[];
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

export const globalOptions: Record<string, OptionSpec> = {
  server: { type: 'string', description: 'MC server base URL (default: the profile\'s, else MC_SERVER, else http://127.0.0.1:3000)', valueName: 'URL' },
  profile: { type: 'string', description: 'profile from `mc login` to use (default: MC_PROFILE, else the current one)', valueName: 'NAME' },
  json: { type: 'boolean', description: 'print machine-readable JSON on stdout (errors too)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the CLI version' },
};

function toParseArgsOptions(options: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
}

export type ParseResult<C> =
  | { kind: 'command'; spec: CommandSpec<C>; parsed: ParsedCommand }
  | { kind: 'help'; spec: CommandSpec<C> | null; group: string | null }
  | { kind: 'version' };

/** Parses argv (without `bun` and the script). Throws a usage CliError naming what is wrong. */
export function parseCommandLine<C>(argv: readonly string[], specs: readonly CommandSpec<C>[]): ParseResult<C> {
  // First pass, lenient, with every flag any command knows: find the command words.
  const all: Record<string, OptionSpec> = { ...globalOptions };
  for (const s of specs) Object.assign(all, s.options);
  let loose: ReturnType<typeof parseArgs>;
  try {
    loose = parseArgs({ args: [...argv], options: toParseArgsOptions(all), strict: false, allowPositionals: true });
  } catch (e) {
    throw usageError(e instanceof Error ? e.message : String(e), 'run `mc --help` for the commands and their flags');
  }
  const words = loose.positionals;
  const spec = [...specs].sort((a, b) => b.words.length - a.words.length).find((s) => s.words.every((w, i) => words[i] === w)) ?? null;
  if (!spec) {
    if (loose.values.version === true && words.length === 0) return { kind: 'version' };
    if (loose.values.help === true || words.length === 0 || words[0] === 'help') {
      const group = words[0] === 'help' ? (words[1] ?? null) : (words[0] ?? null);
      const groupSpec = group ? specs.find((s) => s.words[0] === group) : undefined;
      return { kind: 'help', spec: groupSpec && groupSpec.words.length === 1 ? groupSpec : null, group: groupSpec ? group : null };
    }
    const group = specs.filter((s) => s.words[0] === words[0]);
    if (group.length > 0) {
      throw usageError(
        words[1] ? `unknown command "${words[0]} ${words[1]}"` : `"${words[0]}" needs a subcommand`,
        `one of: ${group.map((s) => s.words.join(' ')).join(', ')}`,
      );
    }
    throw usageError(`unknown command "${words[0]}"`, 'run `mc --help` for the list of commands');
  }
  // Second pass, strict, with this command's flags only.
  let strict: ReturnType<typeof parseArgs>;
  try {
    strict = parseArgs({ args: [...argv], options: toParseArgsOptions({ ...globalOptions, ...spec.options }), strict: true, allowPositionals: true });
  } catch (e) {
    const message = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw usageError(`${spec.words.join(' ')}: ${message}`, `run \`mc ${spec.words.join(' ')} --help\``);
  }
  if (strict.values.help === true) return { kind: 'help', spec, group: null };
  const positionals = strict.positionals.slice(spec.words.length);
  if (positionals.length < spec.minArgs) {
    throw usageError(`mc ${spec.words.join(' ')} needs ${spec.args}`, `usage: mc ${spec.words.join(' ')} ${spec.args}`.trimEnd());
  }
  if (positionals.length > spec.maxArgs) {
    throw usageError(`mc ${spec.words.join(' ')}: unexpected argument "${positionals[spec.maxArgs]}"`, `usage: mc ${spec.words.join(' ')} ${spec.args}`.trimEnd());
  }
  return { kind: 'command', spec, parsed: { words: spec.words, positionals, values: strict.values as ParsedCommand['values'] } };
}

export function helpText<C>(specs: readonly CommandSpec<C>[], spec: CommandSpec<C> | null, group: string | null): string {
  const flagLines = (options: Record<string, OptionSpec>) =>
    Object.entries(options).map(([name, o]) => {
      const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}${o.multiple ? ' …' : ''}`;
      return `  ${left.padEnd(30)} ${o.description}`;
    });
  if (spec) {
    return [`usage: mc ${spec.words.join(' ')} ${spec.args}`.trimEnd(), '', spec.summary, '', 'flags:', ...flagLines(spec.options), ...flagLines(globalOptions)].join('\n');
  }
  const shown = group ? specs.filter((s) => s.words[0] === group) : specs;
  const width = Math.max(...shown.map((s) => `${s.words.join(' ')} ${s.args}`.length));
  return [
    'mc — the Maestro Conductor command line',
    '',
    'usage: mc [--server URL] [--profile NAME] [--json] <command> [args] [flags]',
    '',
    'commands:',
    ...shown.map((s) => `  ${`${s.words.join(' ')} ${s.args}`.padEnd(width)}  ${s.summary}`),
    '',
    'global flags:',
    ...flagLines(globalOptions),
    '',
    'exit codes: 0 ok · 1 failed (execution, verification, server error) · 2 usage or invalid input · 3 denied · 4 unreachable/unavailable',
    'docs: docs/cli.md',
  ].join('\n');
}
