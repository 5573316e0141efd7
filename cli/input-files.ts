import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { usageError } from './cli-errors.ts';

/** Reads a JSON or YAML document (by extension; otherwise JSON first, then YAML). Errors name the file and line. */
export async function readDocument(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    throw usageError(`cannot read ${what} ${path}${code === 'ENOENT' ? ': no such file' : code ? `: ${code}` : ''}`, 'check the path given to -f');
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*[{[]/.test(text))) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw usageError(`${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, `fix the ${what} and retry`);
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw usageError(`${path} is not valid YAML${where}: ${first}`, `fix the ${what} and retry`);
  }
}

/**
 * `--input k=v` gives the string v; `--input k:=<json>` gives a JSON value (number, boolean,
 * object…), as httpie spells it. A later flag overrides an earlier one and the -f file.
 */
export function parseInputFlags(flags: readonly string[], base: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const flag of flags) {
    const json = /^([^=:]+):=(.*)$/s.exec(flag);
    if (json) {
      try {
        out[json[1]!] = JSON.parse(json[2]!);
      } catch {
        throw usageError(`--input ${flag}: the value after ":=" is not JSON`, 'use k=v for a string, or k:=<json> for a number, boolean, list or object');
      }
      continue;
    }
    const plain = /^([^=]+)=(.*)$/s.exec(flag);
    if (!plain || plain[1]!.trim() === '') throw usageError(`--input ${flag} is not of the form key=value`, 'e.g. --input name=Ada --input count:=3');
    out[plain[1]!] = plain[2]!;
  }
  return out;
}

export async function readInputsFile(path: string): Promise<Record<string, unknown>> {
  const doc = await readDocument(path, 'inputs file');
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`${path} must hold an object of inputs (name: value)`);
  return doc as Record<string, unknown>;
}
