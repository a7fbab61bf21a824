#!/bin/sh
# ingest.sh — every format through the real CLI, dedup updates, resolves,
# stdin, --format, --service, counts and exit codes.
. "$(dirname "$0")/lib.sh"
F="$FIXTURES/formats"

run ingest "$F/am_webhook.json"
expect_rc 0 "alertmanager webhook"
expect_in "$out" "2 accepted, 0 updated, 0 rejected" "webhook counts"
expect_eq "$(sql "SELECT format FROM records ORDER BY id DESC LIMIT 1")" "alertmanager" "webhook detected"
# the payload is kept verbatim
python3 - "$SITREP_DB" "$F/am_webhook.json" <<'PY' && ok || fail "raw payload not verbatim"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
raw = open(sys.argv[2], encoding="utf-8").read()
(text,) = con.execute("SELECT text FROM records ORDER BY id LIMIT 1").fetchone()
sys.exit(0 if text.rstrip("\n") == raw.rstrip("\n") else 1)
PY
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE status='resolved'")" 1 "webhook resolved alert"

# the same payload again: both alerts are updates, nothing new
run --json ingest "$F/am_webhook.json"
expect_eq "$(json 'd["accepted"], d["updated"], d["rejected"]')" "(0, 2, 0)" "repeat updates"
expect_eq "$(sql "SELECT sum(occurrences) FROM alerts")" 4 "occurrences counted"

run ingest "$F/am_api.json"
expect_rc 0 "alertmanager api"
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE source='alertmanager-api' AND silenced=1")" 1 "api silenced"
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE source='alertmanager-api' AND inhibited=1")" 1 "api inhibited"

run ingest "$F/grafana.json"
expect_rc 0 "grafana"
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE source='grafana'")" 2 "grafana alerts"

# PagerDuty: trigger, then acknowledge and resolve update the same alert
run ingest "$F/pd_trigger.json" "$F/pd_acknowledge.json" "$F/pd_resolve.json"
expect_rc 0 "pagerduty sequence"
expect_in "$out" "1 accepted, 2 updated, 0 rejected" "pagerduty counts"
expect_eq "$(sql "SELECT status || ' ' || occurrences FROM alerts WHERE source='pagerduty'")" "resolved 3" "pagerduty resolved"

# generic NDJSON from stdin
"$SITREP" ingest - <"$F/generic.ndjson" >"$T/out" 2>"$T/err"
rc=$?
expect_rc 0 "generic ndjson from stdin"
expect_eq "$(sql "SELECT count(*) FROM records JOIN inputs ON inputs.id = input_id WHERE origin='-'")" 5 "stdin records"

# plain log lines, with a service and an explicit format
run ingest --format log --service order-router "$F/app.log"
expect_rc 0 "log lines"
expect_eq "$(sql "SELECT count(DISTINCT service) FROM alerts WHERE source='log'")" 1 "one service"
expect_eq "$(sql "SELECT service FROM alerts WHERE source='log' LIMIT 1")" "order-router" "--service"
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE source='log' AND severity='critical'")" \
	"$(grep -ciE 'fatal|critical|\[alert\]' "$F/app.log")" "log severities"

# forcing a JSON format on a log file rejects every line, with reasons
printf 'not json\n' >"$T/x.log"
run ingest --format json "$T/x.log"
expect_rc 1 "forced json on text"
expect_in "$err" "x.log: line 1: malformed JSON" "forced json message"

# masked variants join one cluster; the reduction shows in stats
for i in 1 2 3 4 5 6 7 8 9; do
	printf '{"name":"PoolExhausted","service":"api","message":"pool exhausted: %d of 50 in use, waited %dms","dedup_key":"p%d"}\n' $((40 + i)) $((i * 100)) "$i"
done >"$T/pool.ndjson"
run ingest "$T/pool.ndjson"
expect_in "$out" "9 accepted" "pool alerts"
expect_eq "$(sql "SELECT count(*) FROM clusters WHERE name='PoolExhausted'")" 1 "one cluster"
expect_eq "$(sql "SELECT template FROM clusters WHERE name='PoolExhausted'")" \
	"pool exhausted: <num> of <num> in use, waited <dur>" "template"
run --json stats
expect_eq "$(json 'd["rejects"]')" 1 "only the forced-format line was rejected"

# templates persist: a log ingested in two runs clusters as in one run
tr -d '\r' <"$TOP_SRCDIR/tests/fixtures/formats/app.log" >"$T/app.log"
head -6 "$T/app.log" >"$T/app1.log"
tail -n +7 "$T/app.log" >"$T/app2.log"
"$SITREP" --db "$T/one.db" ingest --service s "$T/app.log" >/dev/null 2>&1
"$SITREP" --db "$T/two.db" ingest --service s "$T/app1.log" >/dev/null 2>&1
"$SITREP" --db "$T/two.db" ingest --service s "$T/app2.log" >/dev/null 2>&1
expect_eq "$(SITREP_DB="$T/two.db" sql "SELECT group_concat(template, '|') FROM (SELECT template FROM clusters WHERE merged_into IS NULL ORDER BY template)")" \
	"$(SITREP_DB="$T/one.db" sql "SELECT group_concat(template, '|') FROM (SELECT template FROM clusters WHERE merged_into IS NULL ORDER BY template)")" \
	"templates after a restart equal one run's"
run --json cluster "$T/app.log"
expect_eq "$(json 'len(d["lines"]) == len(open("'"$T/app.log"'").read().splitlines())')" True "cluster --json has a line per input line"

# audit rows for each ingest, with the user
expect_eq "$(sql "SELECT actor FROM audit WHERE action='ingest' LIMIT 1")" "tester" "audit actor"
finish
