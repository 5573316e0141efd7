import { describe, expect, it } from 'bun:test';
import { CliError } from '@mc/cli/cli-errors';
import { parseCommandLine } from '@mc/cli/command-line';
import { resolveTarget } from '@mc/cli/config-store';
import { parseInputFlags } from '@mc/cli/input-files';
import { commands } from '@mc/cli/run';

function parse(...argv: string[]) {
  return parseCommandLine(argv, commands);
}

function usage(fn: () => unknown): CliError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('mc command line', () => {
  it('finds two-word commands, their flags and positionals, with global flags anywhere', () => {
    const r = parse('--server', 'http://x:1', 'execute', 'wf-1', '--wait', '--input', 'a=1', '--input', 'b:=2', '--json');
    expect(r.kind).toBe('command');
    if (r.kind !== 'command') return;
    expect(r.spec.words).toEqual(['execute']);
    expect(r.parsed.positionals).toEqual(['wf-1']);
    expect(r.parsed.values).toMatchObject({ server: 'http://x:1', wait: true, input: ['a=1', 'b:=2'], json: true });
    const two = parse('workflow', 'publish', '-f', 'm.yaml');
    expect(two.kind === 'command' && two.spec.words).toEqual(['workflow', 'publish']);
  });

  it('refuses unknown commands, unknown flags and wrong argument counts with exit 2', () => {
    expect(usage(() => parse('frob')).exitCode).toBe(2);
    expect(usage(() => parse('workflow')).message).toContain('needs a subcommand');
    expect(usage(() => parse('workflow', 'list', '--wait')).message).toContain('--wait');
    expect(usage(() => parse('executions', 'get')).message).toContain('<executionId>');
    expect(usage(() => parse('executions', 'get', 'a', 'b')).message).toContain('unexpected argument "b"');
  });

  it('answers --help, help <group> and --version', () => {
    expect(parse().kind).toBe('help');
    expect(parse('--help').kind).toBe('help');
    expect(parse('help', 'workflow')).toMatchObject({ kind: 'help', group: 'workflow' });
    expect(parse('verify', '--help')).toMatchObject({ kind: 'help' });
    expect(parse('--version').kind).toBe('version');
  });
});

describe('--input flags', () => {
  it('k=v is a string, k:=json a JSON value; later flags win over the file', () => {
    expect(parseInputFlags(['name=Ada', 'n:=3', 'ok:=true', 'eq=a=b', 'obj:={"x":[1]}'], { name: 'file', keep: 1 })).toEqual({ name: 'Ada', n: 3, ok: true, eq: 'a=b', obj: { x: [1] }, keep: 1 });
    expect(usage(() => parseInputFlags(['novalue'])).exitCode).toBe(2);
    expect(usage(() => parseInputFlags(['n:={bad'])).message).toContain('not JSON');
  });
});

describe('server and token resolution', () => {
  const config = { currentProfile: 'a', profiles: { a: { server: 'http://a:1', token: 'ta' }, b: { server: 'http://b:2/', token: 'tb' } } };

  it('uses --server, else the profile, else MC_SERVER, else the local default', () => {
    expect(resolveTarget({ profiles: {} }, {}, {})).toMatchObject({ server: 'http://127.0.0.1:3000', token: undefined });
    expect(resolveTarget({ profiles: {} }, {}, { MC_SERVER: 'http://env:9' }).server).toBe('http://env:9');
    expect(resolveTarget(config, {}, { MC_SERVER: 'http://env:9' })).toMatchObject({ server: 'http://a:1', token: 'ta' });
    expect(resolveTarget(config, { profile: 'b' }, {})).toMatchObject({ server: 'http://b:2', token: 'tb' });
  });

  it('never sends a profile\'s token to another server, but finds the profile saved for that server', () => {
    expect(resolveTarget(config, { server: 'http://evil:1' }, {}).token).toBeUndefined();
    expect(resolveTarget(config, { server: 'http://b:2' }, {})).toMatchObject({ token: 'tb', profileName: 'b' });
    expect(resolveTarget(config, { server: 'http://b:2', profile: 'a' }, {}).token).toBeUndefined();
  });

  it('rejects an unknown profile and a server that is not http(s)', () => {
    expect(usage(() => resolveTarget(config, { profile: 'zzz' }, {})).exitCode).toBe(2);
    expect(usage(() => resolveTarget(config, { server: 'ftp://x' }, {})).exitCode).toBe(2);
  });
});
