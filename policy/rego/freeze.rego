# Change freeze: no new versions are published while a freeze is on; a rollback is how a
# freeze gets out of trouble, so it stays allowed, and other actions are not affected.
# Mirror: server/policy/packs/freeze.ts. Fixtures: policy/fixtures/freeze.json.
package mc.freeze

import rego.v1

default allow := false

allow if {
	valid_input
	count(reasons) == 0
}

valid_input if {
	is_string(input.action)
	is_boolean(input.freeze.active)
	is_boolean(input.freeze.isRollback)
}

reasons contains "invalid_input" if not valid_input

reasons contains "change_freeze" if {
	valid_input
	input.action == "publish"
	input.freeze.active == true
	input.freeze.isRollback == false
}
