#!/bin/sh
# basic.sh — version, help, usage errors, global options anywhere, JSON shapes.
. "$(dirname "$0")/lib.sh"

run --version
expect_rc 0 "--version"
expect_in "$out" "sitrep " "--version prints the name"

run --help
expect_rc 0 "--help"
for c in ingest cluster list show ack snooze resolve reopen note merge split ticket stats rejects db; do expect_in "$out" "  $c " "--help lists $c"; done

run ingest --help
expect_rc 0 "ingest --help"
expect_in "$out" "--spool DIR" "ingest --help synopsis"

run </dev/null
expect_rc 2 "no command and no terminal"
expect_in "$err" "the console needs a terminal" "no terminal message"
run frobnicate
expect_rc 2 "unknown command"
expect_in "$err" "unknown command 'frobnicate'" "unknown command message"
run list --limit zero
expect_rc 2 "bad --limit"
run show
expect_rc 2 "show without id"
run show abc
expect_rc 2 "show with bad id"
run ingest --format nosuch /dev/null
expect_rc 2 "unknown format"
run --db
expect_rc 2 "--db without value"

# the database is created on first use, mode 0600, under XDG_STATE_HOME
unset SITREP_DB
run stats
expect_rc 0 "stats on a fresh default database"
[ -f "$XDG_STATE_HOME/sitrep/sitrep.db" ] && ok || fail "default database path not used"
expect_eq "$(stat -c %a "$XDG_STATE_HOME/sitrep/sitrep.db")" 600 "database mode"
export SITREP_DB="$T/env.db"
run stats
[ -f "$T/env.db" ] && ok || fail "SITREP_DB not used"
run --db "$T/cli.db" stats
[ -f "$T/cli.db" ] && ok || fail "--db before the command not used"
run stats --db="$T/cli2.db"
[ -f "$T/cli2.db" ] && ok || fail "--db= after the command not used"

# --json before or after the command
printf '{"name":"A","message":"m 1"}\n' | "$SITREP" ingest >/dev/null 2>&1
run --json stats
expect_rc 0 "--json stats"
expect_eq "$(json 'd["alerts"], d["clusters"], d["records"], d["rejects"]')" "(1, 1, 1, 0)" "stats json"
run stats --json
expect_eq "$(json 'd["reduction"]')" "1.0" "stats --json after command"
run list --clusters --json
expect_eq "$(json 'sorted(d["clusters"][0].keys())')" \
	"['alerts', 'first_seen', 'id', 'last_seen', 'name', 'occurrences', 'service', 'severity', 'template']" \
	"list json keys"
run --json show --cluster 1
expect_eq "$(json 'd["cluster"]["template"], len(d["alerts"]), d["alerts"][0]["message"]')" \
	"('m <num>', 1, 'm 1')" "show json"
run show --cluster 99
expect_rc 1 "show missing cluster"
run --json list
expect_eq "$(json 'len(d["incidents"]), d["incidents"][0]["title"]')" "(1, 'A')" "list json incidents"
run show 99
expect_rc 1 "show missing incident"
run --json rejects
expect_eq "$(json 'd["rejects"]')" "[]" "rejects json empty"
run db check
expect_rc 0 "db check"
expect_in "$out" "ok" "db check ok"

# a configuration typo names the file and line
mkdir -p "$XDG_CONFIG_HOME/sitrep"
printf '[ingest]\nbatch = 10\nbatchh = 3\n' >"$XDG_CONFIG_HOME/sitrep/config"
run ingest /dev/null
expect_rc 2 "bad config"
expect_in "$err" "config:3: unknown setting 'ingest.batchh'" "config error names file:line"
rm "$XDG_CONFIG_HOME/sitrep/config"
# key bindings: the user's [bind] lines over the built-in ones
printf '[bind]\nx = ack\na = none\nColon = command\n' >"$XDG_CONFIG_HOME/sitrep/config"
run --json keys
expect_eq "$(json '[a["keys"] for a in d["actions"] if a["action"] == "ack"][0]')" "x" "ack rebound to x"
run keys
expect_in "$out" "command        Colon" "keys lists command"
printf '[bind]\nx = frobnicate\n' >"$XDG_CONFIG_HOME/sitrep/config"
run keys
expect_rc 2 "unknown action in [bind]"
expect_in "$err" "config:2: unknown action 'frobnicate'" "bind error names file:line"
printf '[bind]\nNoSuchKey = ack\n' >"$XDG_CONFIG_HOME/sitrep/config"
run keys
expect_in "$err" "config:2: unknown key 'NoSuchKey'" "bad key name names file:line"
rm "$XDG_CONFIG_HOME/sitrep/config"
run --config "$T/nope" stats
expect_rc 2 "missing --config file"
finish
