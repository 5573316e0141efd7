# opa test policy/rego — mirrors policy/fixtures/freeze.json.
package mc.freeze_test

import rego.v1

import data.mc.freeze

request(action, active, is_rollback) := {
	"action": action,
	"actor": {"sub": "user-1", "role": "composer"},
	"freeze": {"active": active, "isRollback": is_rollback},
}

test_publishing_without_a_freeze_is_allowed if {
	case1 := request("publish", false, false)
	freeze.allow with input as case1
}

test_publishing_during_a_freeze_is_denied if {
	case2 := request("publish", true, false)
	not freeze.allow with input as case2
	freeze.reasons == {"change_freeze"} with input as case2
}

test_rollback_during_a_freeze_is_allowed if {
	case3 := request("publish", true, true)
	freeze.allow with input as case3
}

test_other_actions_are_not_frozen if {
	case4 := request("execute", true, false)
	freeze.allow with input as case4
	case5 := request("create", true, false)
	freeze.allow with input as case5
}

test_invalid_freeze_state_is_denied if {
	freeze.reasons == {"invalid_input"} with input as {"action": "publish"}
	case6 := request("publish", "yes", false)
	freeze.reasons == {"invalid_input"} with input as case6
	not freeze.allow with input as {"action": "publish"}
}
