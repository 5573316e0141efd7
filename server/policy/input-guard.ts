import { packInputSchemas, type PolicyPack } from '@mc/shared/policy';
import type { PackInput } from './packs/pack-input.ts';

export type AdmittedInput<P extends PolicyPack> = { ok: true; input: PackInput<P>; json: string } | { ok: false };

/** 2 MiB of JSON: far above MC_MAX_MANIFEST_BYTES + MC_MAX_INPUT_BYTES, well below harm. */
export const DEFAULT_MAX_POLICY_INPUT_CHARS = 2 * 1024 * 1024;

/**
 * What a pack may be asked about: the JSON form of the input, valid for that pack. Working on
 * a JSON round-trip means getters, proxies, cycles and class instances never reach a pack, and
 * both backends judge the same bytes.
 *
 * The packs get the round-tripped value, not zod's output: zod silently drops `__proto__` keys,
 * which would let PII under such a key skip the scan. JSON.parse keeps them as own properties.
 */
export function admitPolicyInput<P extends PolicyPack>(pack: P, raw: unknown, maxChars = DEFAULT_MAX_POLICY_INPUT_CHARS): AdmittedInput<P> {
  let json: string | undefined;
  let copy: unknown;
  try {
    json = JSON.stringify(raw);
    if (typeof json !== 'string' || json.length > maxChars) return { ok: false };
    copy = JSON.parse(json);
  } catch {
    // Cycles, bigint, throwing getters and traps, nesting deeper than the stack: not JSON data.
    return { ok: false };
  }
  if (!packInputSchemas[pack].safeParse(copy).success) return { ok: false };
  return { ok: true, input: copy as PackInput<P>, json };
}
