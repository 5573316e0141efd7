import type { Actor } from '@mc/shared/actor';
import { AppError, validationError } from '@mc/shared/errors';
import { manifestDigest, manifestSchema, stagesOf, type Manifest } from '@mc/shared/manifest';
import { findNulPath } from '@mc/shared/json-text';
import { compareSemver } from '@mc/shared/semver';
import { idSchema, planInputSchema, workflowListInputSchema } from '@mc/shared/api';
import type { z } from 'zod';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Deps } from '../deps.ts';
import { decodeCursor, toPage, type Page } from '../http/cursor.ts';
import { decisionView, type DecisionView, evaluateExecute, evaluatePublish, recordDecisions, refuse } from '../policy/policy-service.ts';
import * as repo from './repository.ts';

export interface WorkflowView {
  id: string;
  name: string;
  version: string;
  status: 'draft' | 'published';
  region: string;
  manifestDigest: string;
  manifest: Manifest;
  createdBy: string;
  createdAt: Date;
  publishedAt: Date | null;
  publishedBy: string | null;
}

export type WorkflowSummary = Omit<WorkflowView, 'manifest'> & { taskCount: number };

function view(row: repo.WorkflowRow): WorkflowView {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status,
    region: row.region,
    manifestDigest: row.manifestDigest,
    manifest: row.manifest as Manifest,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    publishedAt: row.publishedAt,
    publishedBy: row.publishedBy,
  };
}

function summary(row: repo.WorkflowRow): WorkflowSummary {
  const { manifest, ...rest } = view(row);
  return { ...rest, taskCount: manifest.tasks.length };
}

export function parseManifest(deps: Pick<Deps, 'config'>, raw: unknown): Manifest {
  const schema = manifestSchema({
    maxBytes: deps.config.MC_MAX_MANIFEST_BYTES,
    maxTasks: deps.config.MC_MAX_TASKS,
    defaultRegion: deps.config.MC_DEFAULT_REGION,
  });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'manifest');
  const nulAt = findNulPath(parsed.data);
  if (nulAt !== null) throw new AppError('VALIDATION', `invalid manifest: ${nulAt}: text may not contain the NUL character (\\u0000)`, { issues: [{ path: nulAt, message: 'contains U+0000' }] });
  return parsed.data;
}

export function parseId(raw: unknown, what: string): string {
  const parsed = idSchema.safeParse(raw);
  if (!parsed.success) throw new AppError('VALIDATION', `${what} must be a UUID`, { issues: [{ path: 'id', message: 'must be a UUID' }] });
  return parsed.data;
}

/** Creates a draft. (name, version) is unique: a second create of the same pair is a conflict, never an overwrite. */
export async function createWorkflow(deps: Deps, raw: unknown, actor: Actor): Promise<WorkflowView> {
  const manifest = parseManifest(deps, raw);
  const row = await repo.insertWorkflow(deps.db, {
    tenantId: actor.tenantId,
    name: manifest.name,
    version: manifest.version,
    manifest,
    manifestDigest: manifestDigest(manifest),
    region: manifest.region,
    createdBy: actor.sub,
  });
  if (!row) {
    const existing = await repo.findWorkflowByNameVersion(deps.db, actor.tenantId, manifest.name, manifest.version);
    throw new AppError('CONFLICT', `workflow ${manifest.name}@${manifest.version} already exists; versions are immutable, create a new version`, {
      details: existing ? { existingId: existing.id, status: existing.status } : {},
    });
  }
  return view(row);
}

/** Replaces a draft's manifest. Published versions are immutable. */
export async function updateDraft(deps: Deps, id: string, raw: unknown, actor: Actor): Promise<WorkflowView> {
  const manifest = parseManifest(deps, raw);
  return deps.db.transaction(async (tx) => {
    const row = await repo.findWorkflow(tx, id, { tenantId: actor.tenantId, forUpdate: true });
    if (!row) throw new AppError('NOT_FOUND', `workflow ${id} not found`);
    if (row.status === 'published') {
      throw new AppError('CONFLICT', `workflow ${row.name}@${row.version} is published and cannot change; create a new version`);
    }
    if (manifest.name !== row.name || manifest.version !== row.version) {
      throw new AppError('VALIDATION', `a draft keeps its name and version (${row.name}@${row.version})`, {
        issues: [{ path: manifest.name !== row.name ? 'name' : 'version', message: 'cannot change on update' }],
      });
    }
    return view(await repo.updateWorkflow(tx, id, { manifest, manifestDigest: manifestDigest(manifest), region: manifest.region }));
  });
}

/**
 * Publishes a draft (idempotent: publishing a published workflow returns it unchanged), after the
 * access, PII and freeze packs allow it. A version below the newest published one of the same
 * name is a rollback, which a change freeze still allows.
 */
export async function publishWorkflow(deps: Deps, id: string, actor: Actor): Promise<WorkflowView> {
  const draft = await repo.findWorkflow(deps.db, id, { tenantId: actor.tenantId });
  if (!draft) throw new AppError('NOT_FOUND', `workflow ${id} not found`);
  if (draft.status === 'published') return view(draft);
  const published = await repo.listPublishedVersions(deps.db, actor.tenantId, draft.name);
  const isRollback = published.some((v) => compareSemver(v, draft.version) > 0);
  const outcome = await evaluatePublish(deps, actor, { ...draft, manifest: draft.manifest as Manifest }, isRollback);
  if (!outcome.allowed) await refuse(deps, outcome);
  return deps.db.transaction(async (tx) => {
    const row = await repo.findWorkflow(tx, id, { tenantId: actor.tenantId, forUpdate: true });
    if (!row) throw new AppError('NOT_FOUND', `workflow ${id} not found`);
    if (row.status === 'published') return view(row);
    const updated = await repo.updateWorkflow(tx, id, { status: 'published', publishedAt: new Date(), publishedBy: actor.sub });
    await recordDecisions(tx, outcome, null);
    await appendAuditEvents(tx, [
      {
        tenantId: actor.tenantId,
        type: 'mc.workflow.published',
        actor: { sub: actor.sub, ...(actor.ip ? { ip: actor.ip } : {}) },
        subject: { workflowId: id },
        data: { name: row.name, version: row.version, manifestDigest: row.manifestDigest, region: row.region, rollback: isRollback },
      },
    ]);
    return view(updated);
  });
}

export interface PlanView {
  workflowId: string;
  name: string;
  version: string;
  region: string;
  /** Tasks grouped so that every task's needs lie in earlier stages; a stage's tasks may run in parallel. */
  stages: string[][];
  costEstimateUsd: string;
  allowed: boolean;
  decisions: DecisionView[];
}

/**
 * A dry run: the resolved DAG, the cost estimate and every decision execute would get now. No side
 * effects besides the decision records; execute evaluates again whatever a plan said.
 */
export async function planWorkflow(deps: Deps, raw: unknown, actor: Actor): Promise<PlanView> {
  const parsed = planInputSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'plan request');
  const row = await repo.findWorkflow(deps.db, parsed.data.id, { tenantId: actor.tenantId });
  if (!row) throw new AppError('NOT_FOUND', `workflow ${parsed.data.id} not found`);
  const manifest = row.manifest as Manifest;
  const region = parsed.data.region ?? row.region;
  const outcome = await evaluateExecute(deps, actor, { ...row, manifest }, { region, inputs: parsed.data.inputs }, 'plan');
  await deps.db.transaction((tx) => recordDecisions(tx, outcome, null));
  return {
    workflowId: row.id,
    name: row.name,
    version: row.version,
    region,
    stages: stagesOf(manifest.tasks),
    costEstimateUsd: outcome.costEstimateUsd.toFixed(4),
    allowed: outcome.allowed,
    decisions: outcome.decisions.map(decisionView),
  };
}

export async function getWorkflow(deps: Deps, id: string, actor: Actor): Promise<WorkflowView> {
  const row = await repo.findWorkflow(deps.db, id, { tenantId: actor.tenantId });
  if (!row) throw new AppError('NOT_FOUND', `workflow ${id} not found`);
  return view(row);
}

export async function listWorkflows(deps: Deps, input: z.output<typeof workflowListInputSchema>, actor: Actor): Promise<Page<WorkflowSummary>> {
  const rows = await repo.listWorkflows(deps.db, { tenantId: actor.tenantId, limit: input.limit, after: decodeCursor(input.cursor), name: input.name, status: input.status });
  return toPage(rows, input.limit, summary);
}
