# opa test policy/rego — mirrors policy/fixtures/pii.json.
package mc.pii_test

import rego.v1

import data.mc.pii

workflow(classification) := {"name": "wf", "version": 1, "region": "us", "dataClassification": classification}

with_defaults(classification, defaults) := {
	"action": "publish",
	"actor": {"sub": "user-1", "role": "composer"},
	"workflow": object.union(workflow(classification), {"defaults": defaults}),
}

with_inputs(classification, inputs) := {
	"action": "execute",
	"actor": {"sub": "user-1", "role": "operator"},
	"workflow": workflow(classification),
	"request": {"region": "us", "inputs": inputs},
}

test_no_pii_is_allowed if {
	case1 := with_defaults("internal", {"report": "daily", "limit": 10})
	pii.allow with input as case1
}

test_email_in_defaults_is_denied if {
	case2 := with_defaults("internal", {"contact": "Reach jane.doe@example.com"})
	not pii.allow with input as case2
	pii.reasons == {"pii_detected:email@workflow.defaults.contact"} with input as case2
}

test_ssn_deep_in_task_with_is_denied if {
	w := object.union(workflow("internal"), {"tasks": [{"id": "a"}, {"id": "b", "with": {"people": [{"note": "ssn 123-45-6789"}]}}]})
	pii.reasons == {"pii_detected:ssn@workflow.tasks.1.with.people.0.note"} with input as {"action": "publish", "workflow": w}
}

test_phone_forms_are_denied if {
	case3 := with_inputs("internal", {"p": "+14155552671"})
	pii.reasons == {"pii_detected:phone@request.inputs.p"} with input as case3
	case4 := with_inputs("internal", {"p": "call (415) 555-2671 after 5pm"})
	pii.reasons == {"pii_detected:phone@request.inputs.p"} with input as case4
	case5 := with_inputs("internal", {"p": "415-555-2671"})
	pii.reasons == {"pii_detected:phone@request.inputs.p"} with input as case5
}

test_card_forms_are_denied if {
	case6 := with_inputs("internal", {"c": "card 4111 1111 1111 1111 exp 12/30"})
	pii.reasons == {"pii_detected:card@request.inputs.c"} with input as case6
	case7 := with_inputs("internal", {"c": "5555555555554444"})
	pii.reasons == {"pii_detected:card@request.inputs.c"} with input as case7
	case8 := with_inputs("internal", {"c": "3782 822463 10005"})
	pii.reasons == {"pii_detected:card@request.inputs.c"} with input as case8
}

test_iban_forms_are_denied if {
	case9 := with_inputs("internal", {"i": "IBAN DE89 3704 0044 0532 0130 00, thanks"})
	pii.reasons == {"pii_detected:iban@request.inputs.i"} with input as case9
	case10 := with_inputs("internal", {"i": ["GB82WEST12345698765432"]})
	pii.reasons == {"pii_detected:iban@request.inputs.i.0"} with input as case10
}

test_pii_key_is_reported_redacted if {
	case11 := with_defaults("internal", {"jane.doe@example.com": {"phone": "+442071838750"}})
	pii.reasons == {
		"pii_detected:email@workflow.defaults.[REDACTED]",
		"pii_detected:phone@workflow.defaults.[REDACTED].phone",
	} with input as case11
}

test_proto_key_is_scanned if {
	case12 := with_inputs("internal", {"__proto__": {"contact": "jane.doe@example.com"}})
	pii.reasons == {"pii_detected:email@request.inputs.__proto__.contact"} with input as case12
}

test_several_kinds_in_one_string if {
	case13 := with_inputs("internal", {"note": "jane@example.com / 123-45-6789"})
	pii.reasons == {
		"pii_detected:email@request.inputs.note",
		"pii_detected:ssn@request.inputs.note",
	} with input as case13
}

test_only_regulated_may_carry_pii if {
	case14 := with_defaults("regulated", {"contact": "jane.doe@example.com"})
	pii.allow with input as case14
	case15 := with_defaults("sensitive", {"contact": "jane.doe@example.com"})
	not pii.allow with input as case15
	case16 := with_inputs("public", {"contact": "jane.doe@example.com"})
	not pii.allow with input as case16
}

test_checksums_reject_lookalikes if {
	case17 := with_inputs("internal", {"a": "000-12-3456", "b": "666-12-3456", "c": "912-34-5678", "d": "123-00-4567", "e": "123-45-0000"})
	pii.allow with input as case17
	case18 := with_inputs("internal", {"c": "4111 1111 1111 1112"})
	pii.allow with input as case18
	case19 := with_inputs("internal", {"i": "DE89370400440532013001"})
	pii.allow with input as case19
}

test_bare_digit_runs_and_numbers_are_not_pii if {
	case20 := with_inputs("internal", {"order": "18446744073709551615", "ts": "1700000000000", "n": "4155552671", "date": "2025-09-29"})
	pii.allow with input as case20
	case21 := with_inputs("internal", {"amount": 4111111111111111})
	pii.allow with input as case21
}

test_validators if {
	pii.luhn_valid("4111111111111111")
	not pii.luhn_valid("4111111111111112")
	pii.iban_valid("GB82WEST12345698765432")
	not pii.iban_valid("GB82WEST12345698765433")
	pii.ssn_valid("123-45-6789")
	not pii.ssn_valid("900-12-3456")
}

test_invalid_input_is_denied if {
	pii.reasons == {"invalid_input"} with input as {"action": "execute", "request": {"inputs": {"a": "jane@example.com"}}}
	case22 := with_defaults("secret", {"a": "x"})
	pii.reasons == {"invalid_input"} with input as case22
	not pii.allow with input as case22
}
