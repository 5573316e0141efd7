# Access: role × action (spec §15, extended with read-only actions and a viewer role).
# Mirror: server/policy/packs/access.ts. Fixtures: policy/fixtures/access.json.
package mc.access

import rego.v1

actions := {"read", "plan", "create", "publish", "execute", "admin"}

grants := {
	"admin": actions,
	"operator": {"read", "plan", "execute"},
	"composer": {"read", "plan", "create", "publish"},
	"viewer": {"read", "plan"},
}

default allow := false

allow if {
	valid_input
	count(reasons) == 0
}

# Defence in depth: the PDP already rejects such input before asking OPA.
valid_input if {
	is_string(input.actor.sub)
	input.actor.sub != ""
	is_string(input.actor.role)
	input.actor.role != ""
	input.action in actions
}

reasons contains "invalid_input" if not valid_input

# An unknown role is granted nothing (object.get falls back to the empty set).
reasons contains sprintf("action_not_permitted:%s:%s", [input.actor.role, input.action]) if {
	valid_input
	not input.action in object.get(grants, input.actor.role, set())
}
