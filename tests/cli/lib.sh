# lib.sh — shared by the CLI tests. Each test sources it, runs checks, and
# ends with `finish`. A failed check prints what was expected and goes on,
# so one run shows every failure; the exit status is 1 if any failed.
set -u
: "${SITREP:?run through make check}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sitrep-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
export SITREP_DB="$T/sitrep.db"
export XDG_CONFIG_HOME="$T/config" XDG_STATE_HOME="$T/state"
export SITREP_USER=tester
unset SSH_CLIENT
failures=0
checks=0

fail() {
	failures=$((failures + 1))
	printf 'FAIL: %s\n' "$*" >&2
}

ok() {
	checks=$((checks + 1))
}

# run CMD...: runs sitrep, keeps stdout in $out, stderr in $err, status in $rc
run() {
	"$SITREP" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok; else fail "${2:-}: exit $rc, expected $1; stderr: $err"; fi
}

expect_in() { # WHERE-VALUE NEEDLE LABEL
	case "$1" in *"$2"*) ok ;; *) fail "${3:-}: expected '$2' in: $1" ;; esac
}

expect_not_in() {
	case "$1" in *"$2"*) fail "${3:-}: did not expect '$2' in: $1" ;; *) ok ;; esac
}

expect_eq() { # GOT WANT LABEL
	if [ "$1" = "$2" ]; then ok; else fail "${3:-}: got '$1', expected '$2'"; fi
}

# sql QUERY: one value from the test database
sql() {
	python3 - "$SITREP_DB" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
row = con.execute(sys.argv[2]).fetchone()
print("" if row is None or row[0] is None else row[0])
PY
}

# jq-lite: json EXPR evaluates a Python expression over the parsed $out as `d`
json() {
	printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print(($1))"
}

finish() {
	echo "$checks checks, $failures failed"
	[ "$failures" -eq 0 ]
}
