#!/bin/sh
# ui.sh — the real console, headless (SITREP_SCRIPT): each tests/ui/*.keys
# script drives it and every screen it saves must equal the expected one
# (tests/ui/NAME.expect). The clock is pinned so ages and sparklines are
# the same on every run. SITREP_UPDATE_SCREENS=1 rewrites the expectations.
. "$(dirname "$0")/lib.sh"
U="$TOP_SRCDIR/tests/ui"
export SITREP_NOW_MS=1768444200000 COLUMNS=80 LINES=24 TERM=xterm-256color NO_COLOR=1
export LANG=C.UTF-8 LC_ALL=C.UTF-8
mkdir -p "$XDG_CONFIG_HOME/sitrep"
cp "$FIXTURES/ui/services" "$XDG_CONFIG_HOME/sitrep/services"

for keys in "$U"/*.keys; do
	name=$(basename "$keys" .keys)
	fixture=$(sed -n 's/^# fixture: //p' "$keys")
	args=$(sed -n 's/^# args: //p' "$keys")
	db="$T/$name.db"
	"$SITREP" --db "$db" ingest - <"$FIXTURES/ui/${fixture:-page.ndjson}" >/dev/null 2>&1
	mkdir -p "$T/$name"
	(cd "$T/$name" && SITREP_SCRIPT="$keys" SITREP_DEMO_SPEED=50 timeout 60 "$SITREP" --db "$db" $args) 2>"$T/$name.err"
	rc=$?
	expect_eq "$rc" 0 "$name: console exit ($(cat "$T/$name.err"))"
	for out in "$T/$name"/*.out; do
		[ -f "$out" ] || { fail "$name: no screen saved"; continue; }
		base=$(basename "$out" .out)
		# the demo's temporary directory has a new name every run
		sed -i 's|/tmp/sitrep-demo-[A-Za-z0-9]*|/tmp/sitrep-demo-XXXXXX|g' "$out"
		want="$U/$name-$base.expect"
		if [ "${SITREP_UPDATE_SCREENS:-}" = 1 ]; then
			cp "$out" "$want"
			ok
		elif diff -u "$want" "$out" >"$T/diff" 2>&1; then
			ok
		else
			fail "$name: screen $base differs:"
			cat "$T/diff" >&2
		fi
	done
	# the actions wrote what the CLI writes
	if [ "$name" = actions ]; then
		for a in ack note snooze merge split resolve; do
			expect_eq "$(SITREP_DB="$db" sql "SELECT count(*) FROM audit WHERE action = '$a' AND actor = 'tester'")" 1 "audit row for $a from the console"
		done
		expect_eq "$(SITREP_DB="$db" sql "SELECT root_cause || '|' || action_taken || '|' || worked FROM incidents WHERE state = 'resolved'")" \
			"pool too small for month-end|raised the pool to 80|1" "resolve from the console"
	fi
	if [ "$name" = readonly ]; then
		expect_eq "$(SITREP_DB="$db" sql "SELECT count(*) FROM audit WHERE action <> 'ingest'")" 0 "read-only wrote nothing"
	fi
	if [ "$name" = hostile ]; then
		if grep -q "$(printf '\033')" "$T/$name"/*.out; then fail "an escape byte reached the screen"; else ok; fi
		grep -q 'Evil\\e\]0;pwned\\x07' "$T/$name/hostile.out" && ok || fail "escaped title not shown"
	fi
done
finish
