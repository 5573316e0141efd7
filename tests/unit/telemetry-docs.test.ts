import { describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { registry } from '@mc/server/observability/metrics';

const registered = new Set(registry.getMetricsAsArray().map((m) => m.name));
const base = (name: string) => name.replace(/_(bucket|count|sum)$/, '');

describe('docs/observability/TELEMETRY.md and dev/grafana-dashboard.json', () => {
  it('name only metrics the registry has', () => {
    const doc = readFileSync(new URL('../../docs/observability/TELEMETRY.md', import.meta.url), 'utf8');
    const inTable = [...doc.matchAll(/^\| `((?:mc|http)_[a-z_]+)`/gm)].map((m) => m[1]!);
    expect(inTable.length).toBeGreaterThanOrEqual(12);
    expect(inTable.filter((n) => !registered.has(n))).toEqual([]);
    const dashboard = JSON.parse(readFileSync(new URL('../../dev/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b((?:mc|http)_[a-z_]+)\b/g)].map((m) => base(m[1]!))));
    expect(used.filter((n) => !registered.has(n))).toEqual([]);
  });

  it('keep the four spec §5 names exactly', () => {
    for (const n of ['mc_publish_to_start_ms', 'mc_policy_denies_total', 'mc_receipts_signed_total', 'http_requests_total']) expect(registered).toContain(n);
  });
});
