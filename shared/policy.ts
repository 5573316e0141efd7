import { z } from 'zod';

/**
 * The policy decision point's contract (docs/policy/README.md). The same input goes to the
 * embedded TypeScript packs and to OPA (`policy/rego/<pack>.rego`); both answer `{allow, reasons}`.
 */
export const policyPacks = ['access', 'pii', 'residency', 'budget', 'freeze'] as const;
export type PolicyPack = (typeof policyPacks)[number];

/** The action vocabulary of the access pack (spec §15, extended with read-only actions). */
export const policyActions = ['read', 'plan', 'create', 'publish', 'execute', 'admin'] as const;
export type PolicyAction = (typeof policyActions)[number];

/** Roles with grants; any other role name is valid input and is granted nothing. */
export const policyRoles = ['admin', 'operator', 'composer', 'viewer'] as const;
export type PolicyRole = (typeof policyRoles)[number];

export const dataClassifications = ['public', 'internal', 'sensitive', 'regulated'] as const;
export type DataClassification = (typeof dataClassifications)[number];

/** Reasons the PDP itself gives, whatever the pack. */
export const pdpReasons = {
  /** The input failed the pack's schema (or is not JSON data): never evaluated, never allowed. */
  invalidInput: 'invalid_input',
  /** OPA did not answer in time or answered something that is not a decision. */
  unavailable: 'pdp_unavailable',
  /** The embedded engine threw: a bug, and still a deny. */
  error: 'pdp_error',
  /** A backend said deny without saying why. */
  deniedWithoutReason: 'denied_without_reason',
} as const;

const region = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/);
const jsonRecord = z.record(z.string(), z.unknown());
const usd = z.number().finite().min(0);

export const policyActorSchema = z.object({
  sub: z.string().min(1).max(512),
  role: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
  tenant: z.string().min(1).max(256).optional(),
});

export const policyWorkflowSchema = z.object({
  id: z.string().min(1).max(256).optional(),
  name: z.string().min(1).max(256),
  version: z.union([z.string().min(1).max(64), z.number().int().min(0)]),
  region,
  dataClassification: z.enum(dataClassifications),
  /** Workflow-level defaults: scanned for PII at publish. */
  defaults: jsonRecord.optional(),
  /** Only each task's `with` matters to policy: scanned for PII at publish. */
  tasks: z.array(z.object({ id: z.string().max(256).optional(), with: jsonRecord.optional() })).optional(),
});

export const policyRequestSchema = z.object({
  region,
  /** Execution inputs: scanned for PII at execute. */
  inputs: jsonRecord.optional(),
});

export const policyBudgetSchema = z.object({
  runCostUsd: usd,
  perRunLimitUsd: usd,
  /** Spend already recorded for the tenant in the trailing window, excluding this run. */
  tenantWindowCostUsd: usd,
  tenantWindowLimitUsd: usd,
  windowHours: z.number().finite().positive(),
});

export const policyFreezeSchema = z.object({
  active: z.boolean(),
  isRollback: z.boolean(),
});

/** Every field a pack may read; which ones are required depends on the pack. */
export const policyInputSchema = z.object({
  action: z.enum(policyActions),
  actor: policyActorSchema,
  workflow: policyWorkflowSchema.optional(),
  request: policyRequestSchema.optional(),
  budget: policyBudgetSchema.optional(),
  freeze: policyFreezeSchema.optional(),
});
export type PolicyInput = z.infer<typeof policyInputSchema>;

/** Per pack: the input is invalid (→ deny `invalid_input`) unless the parts it reads are present. */
export const packInputSchemas = {
  access: policyInputSchema,
  pii: policyInputSchema.extend({ workflow: policyWorkflowSchema }),
  residency: policyInputSchema.extend({ workflow: policyWorkflowSchema, request: policyRequestSchema }),
  budget: policyInputSchema.extend({ budget: policyBudgetSchema }),
  freeze: policyInputSchema.extend({ freeze: policyFreezeSchema }),
} as const satisfies Record<PolicyPack, z.ZodType>;

/** What a pack answers: `allow` is true only when `reasons` is empty. */
export const policyVerdictSchema = z.object({
  allow: z.boolean(),
  reasons: z.array(z.string().max(4096)).max(1000),
});
export type PolicyVerdict = z.infer<typeof policyVerdictSchema>;

export type PdpBackend = 'embedded' | 'opa';

/** One decision, as it goes into receipts and `policy_decisions` rows. */
export interface PolicyDecision extends PolicyVerdict {
  pack: PolicyPack;
  /** `sha256:` of policy/bundles.sha256: which policy text decided. */
  bundleDigest: string;
  latencyMs: number;
  /** UUIDv7, so decisions sort by time. */
  decisionId: string;
  backend: PdpBackend;
}

export function isPolicyPack(value: unknown): value is PolicyPack {
  return typeof value === 'string' && (policyPacks as readonly string[]).includes(value);
}
