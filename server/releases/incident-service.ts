import type { IncidentView } from '@mc/shared/releases';
import * as ops from './ops-repository.ts';
import { listActiveReleases } from './repository.ts';
import { detectSev1, sev1Criteria, type Sev1Finding } from './sev1-detection.ts';
import { applyRollback, type ReleaseDeps } from './transitions.ts';

export const incidentActor = 'system:incident-detector';

export interface IncidentOutcome {
  finding: Sev1Finding;
  incidentId: string | null;
  opened: boolean;
  cleared: boolean;
  rolledBack: string[];
}

/**
 * Sev1 detection and containment (incident playbook "Contain: set weight=0; trigger rollback"):
 * a breached criterion opens one incident (one open per criterion), raises a `sev1` alert, and
 * rolls back every active canary, of every tenant, for as long as the incident is open; the
 * incident is marked cleared when its criterion no longer holds.
 */
export async function detectIncidents(deps: ReleaseDeps, now: Date): Promise<IncidentOutcome[]> {
  const t = now.getTime();
  const [api, publishToStart] = await Promise.all([
    ops.apiRequestTotals(deps.db, new Date(t - sev1Criteria.api_5xx_rate.windowMinutes * 60_000), now),
    ops.publishToStartStats(deps.db, new Date(t - sev1Criteria.publish_to_start_p95.windowMinutes * 60_000), now),
  ]);
  const findings = detectSev1({ api, publishToStart, minSamples: deps.config.MC_CANARY_MIN_SAMPLES });
  const outcomes: IncidentOutcome[] = [];
  for (const finding of findings) {
    let incident = await ops.findOpenIncident(deps.db, finding.criterion);
    if (!finding.breached) {
      if (incident) await ops.updateIncident(deps.db, incident.id, { clearedAt: now });
      outcomes.push({ finding, incidentId: incident?.id ?? null, opened: false, cleared: incident !== null, rolledBack: [] });
      continue;
    }
    let opened = false;
    if (!incident) {
      incident = await ops.openIncident(deps.db, { criterion: finding.criterion, openedAt: now, evidence: finding.evidence });
      opened = incident !== null;
      incident ??= await ops.findOpenIncident(deps.db, finding.criterion);
    }
    if (!incident) continue;
    if (opened) {
      await ops.insertAlert(deps.db, { tenantId: null, kind: 'sev1', dedupeKey: `sev1:${incident.id}`, at: now, data: { incidentId: incident.id, criterion: finding.criterion, evidence: finding.evidence } });
      deps.logger.error({ incidentId: incident.id, criterion: finding.criterion, evidence: finding.evidence }, 'Sev1 incident opened');
    }
    const rolledBack: string[] = [];
    for (const release of await listActiveReleases(deps.db)) {
      const rolled = await applyRollback(deps, release.id, { reason: 'sev1', actor: incidentActor, evidence: { incidentId: incident.id, criterion: finding.criterion, ...finding.evidence } }, now);
      if (rolled) rolledBack.push(release.id);
    }
    if (rolledBack.length > 0) {
      const before = (incident.actions as { rolledBack?: string[] }).rolledBack ?? [];
      await ops.updateIncident(deps.db, incident.id, { actions: { rolledBack: [...before, ...rolledBack] } });
    }
    outcomes.push({ finding, incidentId: incident.id, opened, cleared: false, rolledBack });
  }
  return outcomes;
}

export async function listIncidents(deps: Pick<ReleaseDeps, 'db'>, limit = 50): Promise<IncidentView[]> {
  const rows = await ops.listIncidents(deps.db, limit);
  return rows.map((r) => ({
    id: r.id,
    severity: r.severity,
    criterion: r.criterion,
    openedAt: r.openedAt,
    clearedAt: r.clearedAt,
    evidence: r.evidence as Record<string, unknown>,
    actions: r.actions as Record<string, unknown>,
  }));
}
