# opa test policy/rego — mirrors policy/fixtures/residency.json.
package mc.residency_test

import rego.v1

import data.mc.residency

request(workflow_region, request_region) := {
	"action": "execute",
	"actor": {"sub": "user-1", "role": "operator"},
	"workflow": {"name": "wf", "version": 1, "region": workflow_region, "dataClassification": "internal"},
	"request": {"region": request_region},
}

test_same_region_is_allowed if {
	case1 := request("eu", "eu")
	residency.allow with input as case1
	count(residency.reasons) == 0 with input as case1
}

test_other_region_is_denied if {
	case2 := request("eu", "us")
	not residency.allow with input as case2
	residency.reasons == {"residency_mismatch"} with input as case2
	case3 := request("eu-west", "eu")
	residency.reasons == {"residency_mismatch"} with input as case3
}

test_missing_region_is_invalid if {
	no_request := {"action": "execute", "actor": {"sub": "u", "role": "operator"}, "workflow": {"region": "eu"}}
	residency.reasons == {"invalid_input"} with input as no_request
	not residency.allow with input as no_request
	residency.reasons == {"invalid_input"} with input as {"request": {"region": "eu"}}
}
