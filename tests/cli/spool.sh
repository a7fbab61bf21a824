#!/bin/sh
# spool.sh — a spool directory: good files go to done/ after their commit,
# files with nothing usable go to failed/ with a .why beside them.
. "$(dirname "$0")/lib.sh"
S="$T/spool"
mkdir -p "$S"
cp "$FIXTURES/formats/am_webhook.json" "$S/01-webhook.json"
{ printf '{"name":"A","message":"a 1"}\n'; printf 'garbage\n'; } >"$S/02-mixed.ndjson"
printf '{"nope": true}\n{"also": "nope"}\n' >"$S/03-bad.ndjson"
printf '\377\376 binary junk\n' >"$S/04-binary.log"
: >"$S/05-empty.json"
printf 'app started\n' >"$S/.hidden"

run ingest --spool "$S"
expect_rc 1 "spool with some bad input"
for f in 01-webhook.json 02-mixed.ndjson; do
	[ -f "$S/done/$f" ] && ok || fail "$f not moved to done/"
	[ ! -e "$S/$f" ] && ok || fail "$f still in the spool"
done
for f in 03-bad.ndjson 04-binary.log 05-empty.json; do
	[ -f "$S/failed/$f" ] && ok || fail "$f not moved to failed/"
	[ -f "$S/failed/$f.why" ] && ok || fail "$f.why missing"
done
expect_in "$(cat "$S/failed/03-bad.ndjson.why")" "line 2: JSON of an unknown shape" "why names line"
expect_in "$(cat "$S/failed/04-binary.log.why")" "invalid UTF-8" "why for binary"
[ -f "$S/.hidden" ] && ok || fail "dotfiles are left alone"
expect_eq "$(sql "SELECT count(*) FROM alerts")" 3 "alerts from the spool"
expect_eq "$(sql "SELECT count(*) FROM rejects")" 5 "rejects from the spool"
expect_in "$out" "3 accepted" "spool counts"

# a second run finds nothing new and changes nothing
run ingest --spool "$S"
expect_rc 0 "empty spool"
expect_eq "$(sql "SELECT count(*) FROM alerts")" 3 "no double ingest"

run ingest --spool "$T/no-such-dir"
expect_rc 1 "missing spool directory"
expect_in "$err" "cannot open spool directory" "missing spool message"
run ingest --spool "$S" extra.json
expect_rc 2 "spool with file arguments"
finish
