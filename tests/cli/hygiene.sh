#!/bin/sh
# hygiene.sh — the tree keeps its promises: no curses outside ui/, the man
# page documents exactly the commands the binary has, the README's two
# commands are the ones CI runs.
. "$(dirname "$0")/lib.sh"
S="$TOP_SRCDIR"

hits=$(grep -rlE '#include[[:space:]]*<n?curses' "$S/src" 2>/dev/null)
expect_eq "$hits" "" "curses included outside ui/"

# commands in the binary's table vs commands documented in sitrep(1)
"$SITREP" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort >"$T/bin"
sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$S/man/sitrep.1" |
	sed -n '/^\.TP/{n;s/^\.B \([a-z][a-z]*\).*/\1/p}' | sort -u >"$T/man"
expect_eq "$(cat "$T/bin" | tr '\n' ' ')" "$(cat "$T/man" | tr '\n' ' ')" "man page commands"
[ -s "$T/bin" ] && ok || fail "no commands found in --help"

# every --option the binary accepts for ingest/list/rejects is in the man page
for opt in --format --service --spool --limit --db --config --json --version --help; do
	grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$S/man/sitrep.1" && ok || fail "man page lacks $opt"
done

# every format name is documented
for f in alertmanager alertmanager\\\\-api pagerduty grafana json log; do
	grep -q "^\.B $f\$" "$S/man/sitrep.1" && ok || fail "man page lacks format $f"
done

# the README's test command is what .ci/run runs
grep -q 'make check' "$S/README" && ok || fail "README has no test command"
grep -q 'make -j2 check' "$S/.ci/run" && ok || fail ".ci/run does not run make check"
finish
