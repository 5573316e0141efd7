import type { z } from 'zod';
import type { PolicyPack, packInputSchemas } from '@mc/shared/policy';

/** The input a pack sees: already validated against that pack's schema by the PDP. */
export type PackInput<P extends PolicyPack> = z.infer<(typeof packInputSchemas)[P]>;

/** A pack lists its deny reasons; none means allow. Mirrors `reasons` in policy/rego/<pack>.rego. */
export type PackRule<P extends PolicyPack> = (input: PackInput<P>) => string[];
