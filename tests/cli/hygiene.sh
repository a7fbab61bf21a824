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

# every console action, with its default keys, is in sitrep(1)
"$SITREP" keys --json | python3 -c '
import json, sys, re
man = open(sys.argv[1]).read().replace("\\-", "-").replace("\\(em", "-")
missing = [a["action"] for a in json.load(sys.stdin)["actions"]
           if (".B %s\n%s - " % (a["keys"] or "-", a["action"])) not in man]
print(" ".join(missing))' "$S/man/sitrep.1" >"$T/missing"
expect_eq "$(cat "$T/missing")" "" "actions missing or stale in sitrep(1) KEYS"

# every setting the parser knows is documented in sitrep.conf(5)
sed 's/\\-/-/g' "$S/man/sitrep.conf.5" >"$T/conf5"
for k in mask.rules ingest.batch ingest.service correlate.window correlate.reopen-window \
	correlate.labels correlate.services snooze.wake-rate registry.quiet registry.expire \
	sources.spool sources.file sources.poll; do
	grep -qxF ".B $k" "$T/conf5" && ok || fail "sitrep.conf(5) lacks $k"
done

# the README's test command is what .ci/run runs
grep -q 'make check' "$S/README" && ok || fail "README has no test command"
grep -q 'make -j2 check' "$S/.ci/run" && ok || fail ".ci/run does not run make check"
finish
