# PII (spec §1 "Info Disclosure", §3): PII may only flow through workflows classified
# "regulated". Anything else with PII in workflow.defaults, a task's `with`, or request.inputs
# (keys or string values, any depth) is denied with one reason per kind and path:
#   pii_detected:<kind>@<path>   e.g. pii_detected:email@workflow.tasks.0.with.contact
# A key that is itself PII is written [REDACTED] in the path, so reasons never echo PII.
#
# Mirror: shared/pii-detection.ts + server/policy/packs/pii.ts. The pattern strings below are
# byte-for-byte those of shared/pii-detection.ts (tests/unit/policy-fixtures.test.ts checks).
# They use only syntax that RE2 and JavaScript read alike; the checksums (SSN rules, Luhn,
# mod-97) are re-implemented here. Fixtures: policy/fixtures/pii.json.
package mc.pii

import rego.v1

classifications := {"public", "internal", "sensitive", "regulated"}

pii_allowed_classifications := {"regulated"}

default allow := false

allow if {
	valid_input
	count(reasons) == 0
}

valid_input if input.workflow.dataClassification in classifications

reasons contains "invalid_input" if not valid_input

reasons contains sprintf("pii_detected:%s", [finding]) if {
	valid_input
	not input.workflow.dataClassification in pii_allowed_classifications
	some finding in findings
}

# --- where to look -----------------------------------------------------------------------

roots contains [["workflow", "defaults"], d] if {
	d := input.workflow.defaults
}

roots contains [["workflow", "tasks", i, "with"], w] if {
	some i, task in input.workflow.tasks
	w := task["with"]
}

roots contains [["request", "inputs"], r] if {
	r := input.request.inputs
}

# "<kind>@<path>" for string values holding PII.
findings contains sprintf("%s@%s", [kind, render_path(array.concat(root[0], rel))]) if {
	some root in roots
	walk(root[1], [rel, value])
	is_string(value)
	some kind in kinds
	has_kind(kind, value)
}

# "<kind>@<path>" for object keys holding PII (array indices are numbers, keys strings).
findings contains sprintf("%s@%s", [kind, render_path(array.concat(root[0], rel))]) if {
	some root in roots
	walk(root[1], [rel, _])
	count(rel) > 0
	key := rel[count(rel) - 1]
	is_string(key)
	some kind in kinds
	has_kind(kind, key)
}

render_path(path) := concat(".", [segment_text(s) | some s in path])

segment_text(s) := format_int(s, 10) if is_number(s)

segment_text(s) := "[REDACTED]" if {
	is_string(s)
	contains_pii(s)
}

segment_text(s) := s if {
	is_string(s)
	not contains_pii(s)
}

contains_pii(s) if {
	some kind in kinds
	has_kind(kind, s)
}

# --- what PII looks like -----------------------------------------------------------------

kinds := ["email", "ssn", "phone", "card", "iban"]

email_pattern := `[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}`

ssn_pattern := `\b\d{3}-\d{2}-\d{4}\b`

phone_pattern := `\+[1-9]\d{7,14}\b|(?:\+1[ .-]?)?(?:\([2-9]\d{2}\) ?|\b[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}\b`

card_pattern := `\b(?:[2-6]\d{12,18}|[2-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{3})?|3\d{3}[ -]\d{6}[ -]\d{4,5})\b`

iban_pattern := `\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b`

has_kind("email", s) if regex.match(email_pattern, s)

has_kind("phone", s) if regex.match(phone_pattern, s)

has_kind("ssn", s) if {
	some candidate in regex.find_n(ssn_pattern, s, -1)
	ssn_valid(candidate)
}

has_kind("card", s) if {
	some candidate in regex.find_n(card_pattern, s, -1)
	luhn_valid(replace(replace(candidate, " ", ""), "-", ""))
}

has_kind("iban", s) if {
	some candidate in regex.find_n(iban_pattern, s, -1)
	iban_valid(replace(candidate, " ", ""))
}

# SSA rules: area never 000, 666 or 9xx; group never 00; serial never 0000.
ssn_valid(candidate) if {
	parts := split(candidate, "-")
	not parts[0] in {"000", "666"}
	not startswith(parts[0], "9")
	parts[1] != "00"
	parts[2] != "0000"
}

luhn_doubled := [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]

luhn_valid(digits) if {
	chars := split(digits, "")
	n := count(chars)
	total := sum([luhn_term(to_number(chars[i]), (n - 1) - i) | some i in numbers.range(0, n - 1)])
	total % 10 == 0
}

# Counting from the right, every second digit is doubled (digit sum of the double).
luhn_term(d, from_right) := d if from_right % 2 == 0

luhn_term(d, from_right) := luhn_doubled[d] if from_right % 2 == 1

iban_alphabet := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# 10^k mod 97 for k = 0..69: enough for 34 characters that each expand to at most 2 digits.
# Summing digit * weight keeps every number small, with no big-integer arithmetic.
pow10_mod97 := [
	1, 10, 3, 30, 9, 90, 27, 76, 81, 34, 49, 5, 50, 15, 53, 45, 62, 38, 89, 17,
	73, 51, 25, 56, 75, 71, 31, 19, 93, 57, 85, 74, 61, 28, 86, 84, 64, 58, 95, 77,
	91, 37, 79, 14, 43, 42, 32, 29, 96, 87, 94, 67, 88, 7, 70, 21, 16, 63, 48, 92,
	47, 82, 44, 52, 35, 59, 8, 80, 24, 46,
]

# ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 must be 1.
iban_valid(compact) if {
	n := count(compact)
	n >= 15
	n <= 34
	rearranged := concat("", [substring(compact, 4, n - 4), substring(compact, 0, 4)])
	expanded := concat("", [format_int(indexof(iban_alphabet, c), 10) | some c in split(rearranged, "")])
	digits := split(expanded, "")
	m := count(digits)
	total := sum([to_number(digits[i]) * pow10_mod97[(m - 1) - i] | some i in numbers.range(0, m - 1)])
	total % 97 == 1
}
