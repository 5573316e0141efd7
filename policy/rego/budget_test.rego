# opa test policy/rego — mirrors policy/fixtures/budget.json.
package mc.budget_test

import rego.v1

import data.mc.budget

request(run, per_run, window, window_limit) := {
	"action": "execute",
	"actor": {"sub": "user-1", "role": "operator"},
	"budget": {
		"runCostUsd": run,
		"perRunLimitUsd": per_run,
		"tenantWindowCostUsd": window,
		"tenantWindowLimitUsd": window_limit,
		"windowHours": 24,
	},
}

test_within_limits_is_allowed if {
	case1 := request(1.5, 5, 20, 100)
	budget.allow with input as case1
}

test_reaching_a_limit_exactly_is_allowed if {
	case2 := request(5, 5, 95, 100)
	budget.allow with input as case2
	case3 := request(0, 5, 100, 100)
	budget.allow with input as case3
}

test_run_over_its_limit_is_denied if {
	case4 := request(5.25, 5, 0, 100)
	not budget.allow with input as case4
	budget.reasons == {"run_budget_exceeded"} with input as case4
}

test_cheap_runs_cannot_smuggle_past_the_tenant_limit if {
	case5 := request(0.5, 5, 99.75, 100)
	budget.reasons == {"tenant_budget_exceeded"} with input as case5
	case6 := request(0.25, 5, 100, 100)
	budget.reasons == {"tenant_budget_exceeded"} with input as case6
}

test_both_limits_give_both_reasons if {
	case7 := request(50, 5, 60, 100)
	budget.reasons == {"run_budget_exceeded", "tenant_budget_exceeded"} with input as case7
}

test_invalid_budget_is_denied if {
	case8 := request(-1, 5, 0, 100)
	budget.reasons == {"invalid_input"} with input as case8
	case9 := request("1", 5, 0, 100)
	budget.reasons == {"invalid_input"} with input as case9
	budget.reasons == {"invalid_input"} with input as {"action": "execute"}
	base := request(1, 5, 0, 100)
	zero_window := object.union(base, {"budget": object.union(base.budget, {"windowHours": 0})})
	budget.reasons == {"invalid_input"} with input as zero_window
	not budget.allow with input as zero_window
}
