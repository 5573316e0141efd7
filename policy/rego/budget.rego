# Budget (spec §1 abuse case "budget smuggling"): the run must fit its own limit, and the
# tenant's window total including this run must fit the tenant limit. Reaching a limit exactly
# is allowed. Mirror: server/policy/packs/budget.ts. Fixtures: policy/fixtures/budget.json.
package mc.budget

import rego.v1

default allow := false

allow if {
	valid_input
	count(reasons) == 0
}

amounts := ["runCostUsd", "perRunLimitUsd", "tenantWindowCostUsd", "tenantWindowLimitUsd"]

valid_input if {
	every field in amounts {
		is_number(input.budget[field])
		input.budget[field] >= 0
	}
	is_number(input.budget.windowHours)
	input.budget.windowHours > 0
}

reasons contains "invalid_input" if not valid_input

reasons contains "run_budget_exceeded" if {
	valid_input
	input.budget.runCostUsd > input.budget.perRunLimitUsd
}

reasons contains "tenant_budget_exceeded" if {
	valid_input
	input.budget.tenantWindowCostUsd + input.budget.runCostUsd > input.budget.tenantWindowLimitUsd
}
