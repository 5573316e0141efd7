#!/usr/bin/env bash
# Synthetic canary breach (spec §13): reports a metric over its threshold to MC, which rolls back
# the active canaries of the service through the same path as the canary controller
# (server/releases/service.ts simulateBreach; docs/ops/ROLLOUT_PLAYBOOK.md).
#
#   CM_URL=http://127.0.0.1:3000 MC_TOKEN=mc_... tools/canary/breach-sim.sh [service] [metric] [value] [threshold]
#
# service: `mc` (every active canary of the token's tenant, the default) or a workflow name.
# POST /breach is admin-only: MC_TOKEN is an admin API token (not needed with MC_ANONYMOUS_ROLE=admin).
set -euo pipefail
CM_URL="${CM_URL:-http://127.0.0.1:3000}"
SERVICE="${1:-mc}"
METRIC="${2:-p95LatencyMs}"
VALUE="${3:-1120}"
THRESHOLD="${4:-900}"
auth=()
if [[ -n "${MC_TOKEN:-}" ]]; then auth=(-H "authorization: Bearer ${MC_TOKEN}"); fi
# Values go into JSON as they are: keep them to names and numbers.
if [[ ! "$SERVICE" =~ ^[a-z0-9][a-z0-9._-]{0,99}$ ]]; then echo "breach-sim: bad service name: $SERVICE" >&2; exit 2; fi
if [[ ! "$METRIC" =~ ^[A-Za-z][A-Za-z0-9_.]{0,99}$ ]]; then echo "breach-sim: bad metric name: $METRIC" >&2; exit 2; fi
number='^-?[0-9]+(\.[0-9]+)?$'
if [[ ! "$VALUE" =~ $number || ! "$THRESHOLD" =~ $number ]]; then echo "breach-sim: value and threshold must be numbers" >&2; exit 2; fi
curl -fsS -X POST "$CM_URL/breach" \
  -H 'content-type: application/json' \
  "${auth[@]}" \
  -d "{\"service\":\"${SERVICE}\",\"metric\":\"${METRIC}\",\"value\":${VALUE},\"threshold\":${THRESHOLD}}"
echo
