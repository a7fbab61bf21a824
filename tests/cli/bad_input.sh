#!/bin/sh
# bad_input.sh — each kind of bad input: a clear message naming the file and
# line, a row in rejects with the reason, every valid record of the same
# input stored, exit status 1 (3 for the store), no crash.
. "$(dirname "$0")/lib.sh"

good() { printf '{"name":"Good%s","message":"fine %s","dedup_key":"g%s"}\n' "$1" "$1" "$1"; }
alerts() { sql "SELECT count(*) FROM alerts"; }
last_reason() { sql "SELECT reason FROM rejects ORDER BY id DESC LIMIT 1"; }
last_location() { sql "SELECT origin || ':' || location FROM rejects ORDER BY id DESC LIMIT 1"; }

# malformed JSON between two good lines
{ good 1; printf '{"name": "broken", "message": }\n'; good 2; } >"$T/malformed.ndjson"
run ingest "$T/malformed.ndjson"
expect_rc 1 "malformed json"
expect_in "$err" "malformed.ndjson: line 2: malformed JSON" "malformed message"
expect_eq "$(last_location)" "$T/malformed.ndjson:line 2" "malformed reject location"
expect_in "$(last_reason)" "malformed JSON at line 1 column" "malformed reason"
expect_eq "$(alerts)" 2 "good lines around malformed kept"

# JSON of an unknown shape
{ good 3; printf '{"foo": 1, "bar": [1, 2]}\n'; } >"$T/shape.ndjson"
run ingest "$T/shape.ndjson"
expect_rc 1 "unknown shape"
expect_in "$err" "shape.ndjson: line 2: JSON of an unknown shape" "shape message"
expect_eq "$(alerts)" 3 "good line before unknown shape kept"

# invalid UTF-8, in JSON and in a log line
{ good 4; printf '{"name":"bad\377","message":"x"}\n'; } >"$T/utf8.ndjson"
run ingest "$T/utf8.ndjson"
expect_rc 1 "invalid utf-8 json"
expect_in "$err" "utf8.ndjson: line 2: invalid UTF-8 at byte 13" "utf8 message"
printf 'ok line\nbad \300\257 line\nanother ok line\n' >"$T/utf8.log"
run ingest "$T/utf8.log"
expect_rc 1 "invalid utf-8 log"
expect_in "$err" "utf8.log: line 2: invalid UTF-8" "utf8 log message"
expect_eq "$(alerts)" 6 "valid lines around invalid UTF-8 kept"
expect_eq "$(sql "SELECT hex(text) FROM rejects ORDER BY id DESC LIMIT 1")" "62616420C0AF206C696E65" "bad bytes kept in rejects"

# a record over 1 MiB
{ good 5; python3 -c 'import sys; sys.stdout.write("{\"name\":\"big\",\"message\":\"" + "x" * 1100000 + "\"}\n")'; good 6; } >"$T/big.ndjson"
run ingest "$T/big.ndjson"
expect_rc 1 "record over 1 MiB"
expect_in "$err" "big.ndjson: line 2: record of 1100027 bytes is over the 1 MiB limit" "big message"
expect_eq "$(sql "SELECT size FROM rejects ORDER BY id DESC LIMIT 1")" 1100027 "big size recorded"
expect_eq "$(sql "SELECT length(text) FROM rejects ORDER BY id DESC LIMIT 1")" 65536 "big kept bounded"
expect_eq "$(alerts)" 8 "records around the big one kept"

# nested deeper than 64 levels
{ good 7; python3 -c 'print("{\"name\":\"deep\",\"message\":\"m\",\"labels\":{\"x\":" + "[" * 70 + "]" * 70 + "}}")'; } >"$T/deep.ndjson"
run ingest "$T/deep.ndjson"
expect_rc 1 "too deep"
expect_in "$err" "deep.ndjson: line 2: JSON nested deeper than 64 levels" "deep message"
expect_eq "$(alerts)" 9 "record before the deep one kept"

# an empty file
: >"$T/empty.json"
run ingest "$T/empty.json"
expect_rc 1 "empty file"
expect_in "$err" "empty.json: line 1: empty input" "empty message"
expect_eq "$(last_reason)" "empty input" "empty reason"

# a truncated last NDJSON line
{ good 8; printf '{"name":"cut","mess'; } >"$T/trunc.ndjson"
run ingest "$T/trunc.ndjson"
expect_rc 1 "truncated"
expect_in "$err" "trunc.ndjson: line 2: truncated JSON (last line has no newline)" "truncated message"
expect_eq "$(alerts)" 10 "line before the truncated one kept"

# a pretty-printed document that is broken: one reject for the document
printf '{\n  "version": "4",\n  "alerts": [\n' >"$T/doc.json"
run ingest "$T/doc.json"
expect_rc 1 "broken document"
expect_in "$err" "doc.json: line 1: malformed JSON" "broken document message"

# a missing file among good ones: the good ones are stored
good 9 >"$T/g9.ndjson"
run ingest "$T/nonexistent.json" "$T/g9.ndjson"
expect_rc 1 "missing file"
expect_in "$err" "nonexistent.json: cannot read: No such file or directory" "missing message"
expect_eq "$(alerts)" 11 "file after the missing one ingested"

# hostile bytes in a malformed record never reach the terminal raw
printf '{"name": "\033]0;pwned\007\033[2J", oops}\n' >"$T/evil.ndjson"
run ingest "$T/evil.ndjson"
expect_rc 1 "hostile malformed"
if printf '%s' "$err" | grep -q "$(printf '\033')"; then fail "escape byte reached stderr"; else ok; fi
run rejects
if printf '%s' "$out" | grep -q "$(printf '\033')"; then fail "escape byte reached rejects output"; else ok; fi

# every reject is listed with origin and reason
run --json rejects
expect_eq "$(json 'len(d["rejects"])')" "$(sql "SELECT count(*) FROM rejects")" "rejects json lists all"
expect_eq "$(json 'all(r["reason"] and r["origin"] and r["location"] for r in d["rejects"])')" True "rejects fields"

# a database that cannot be written: exit 3, a message naming it
: >"$T/afile"
run --db "$T/afile/sub/x.db" ingest "$T/g9.ndjson"
expect_rc 3 "unwritable database"
expect_in "$err" "$T/afile/sub/x.db" "unwritable message names the path"
# a file that is not a database
printf 'hello, I am not SQLite%01000d\n' 0 >"$T/notdb"
run --db "$T/notdb" stats
expect_rc 3 "not a database"
expect_in "$err" "not a sitrep database" "not a database message"

# the store stayed whole through all of this
run db check
expect_rc 0 "integrity after bad input"
finish
