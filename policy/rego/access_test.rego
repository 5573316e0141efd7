# opa test policy/rego — mirrors policy/fixtures/access.json.
package mc.access_test

import rego.v1

import data.mc.access

request(role, action) := {"action": action, "actor": {"sub": "user-1", "role": role}}

test_admin_may_do_everything if {
	case1 := request("admin", "read")
	access.allow with input as case1
	case2 := request("admin", "plan")
	access.allow with input as case2
	case3 := request("admin", "create")
	access.allow with input as case3
	case4 := request("admin", "publish")
	access.allow with input as case4
	case5 := request("admin", "execute")
	access.allow with input as case5
	case6 := request("admin", "admin")
	access.allow with input as case6
}

test_operator_may_read_plan_and_execute if {
	case7 := request("operator", "read")
	access.allow with input as case7
	case8 := request("operator", "plan")
	access.allow with input as case8
	case9 := request("operator", "execute")
	access.allow with input as case9
}

test_operator_may_not_author_publish_or_administer if {
	case10 := request("operator", "create")
	not access.allow with input as case10
	case11 := request("operator", "publish")
	not access.allow with input as case11
	case12 := request("operator", "admin")
	not access.allow with input as case12
	access.reasons == {"action_not_permitted:operator:publish"} with input as case11
}

test_composer_may_read_plan_create_and_publish if {
	case13 := request("composer", "read")
	access.allow with input as case13
	case14 := request("composer", "plan")
	access.allow with input as case14
	case15 := request("composer", "create")
	access.allow with input as case15
	case16 := request("composer", "publish")
	access.allow with input as case16
}

test_composer_may_not_execute_or_administer if {
	case17 := request("composer", "execute")
	not access.allow with input as case17
	case18 := request("composer", "admin")
	not access.allow with input as case18
	access.reasons == {"action_not_permitted:composer:execute"} with input as case17
}

test_viewer_may_only_read_and_plan if {
	case19 := request("viewer", "read")
	access.allow with input as case19
	case20 := request("viewer", "plan")
	access.allow with input as case20
	case21 := request("viewer", "create")
	not access.allow with input as case21
	case22 := request("viewer", "publish")
	not access.allow with input as case22
	case23 := request("viewer", "execute")
	not access.allow with input as case23
	case24 := request("viewer", "admin")
	not access.allow with input as case24
	access.reasons == {"action_not_permitted:viewer:publish"} with input as case22
}

test_unknown_role_is_granted_nothing if {
	case25 := request("guest", "read")
	not access.allow with input as case25
	access.reasons == {"action_not_permitted:guest:read"} with input as case25
	case26 := request("constructor", "execute")
	access.reasons == {"action_not_permitted:constructor:execute"} with input as case26
}

test_invalid_input_is_denied if {
	access.reasons == {"invalid_input"} with input as {"action": "read"}
	case27 := request("admin", "delete")
	access.reasons == {"invalid_input"} with input as case27
	access.reasons == {"invalid_input"} with input as {"action": "read", "actor": {"sub": "", "role": "admin"}}
	access.reasons == {"invalid_input"} with input as {"action": "read", "actor": {"sub": "u", "role": ["admin"]}}
	not access.allow with input as {"action": "read"}
}
