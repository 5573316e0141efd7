# Residency (spec §3): workflow.region must equal request.region.
# Mirror: server/policy/packs/residency.ts. Fixtures: policy/fixtures/residency.json.
package mc.residency

import rego.v1

default allow := false

allow if {
	valid_input
	count(reasons) == 0
}

valid_input if {
	is_string(input.workflow.region)
	is_string(input.request.region)
}

reasons contains "invalid_input" if not valid_input

reasons contains "residency_mismatch" if {
	valid_input
	input.workflow.region != input.request.region
}
