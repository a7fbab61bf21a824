#!/bin/sh
# demo.sh — the demo scenario tells its story through the real ingest path:
# replayed fast into a spool directory and ingested with the demo's service
# graph, it makes one cascade incident whose probable origin is ledger-db,
# folds its floods into a few clusters, joins each customer report to the
# errors behind it by firm, and keeps the unrelated certificate alert
# apart. Also: the scenario parser's errors, the replay's timing and file
# names, and the demo history.
. "$(dirname "$0")/lib.sh"
D="$TOP_SRCDIR/data/demo"
export SITREP_DATADIR="$TOP_SRCDIR/data"

# ---- the scenario parser names file and line -------------------------------
bad() { # LABEL EXPECTED-IN-STDERR, scenario text on stdin
	cat >"$T/bad.scenario"
	run demo --speed 1000 --scenario "$T/bad.scenario" "$T/bad-spool"
	expect_rc 1 "$1"
	expect_in "$err" "$2" "$1 message"
}
printf '# c\n@ 1 nagios\n{"a":1}\n' | bad "unknown format" "bad.scenario:2: unknown format 'nagios'"
printf '@ 0 alertmanager\n{\n  "version": "4",\n  "alerts": [ }\n' |
	bad "bad JSON" "bad.scenario:4: alertmanager payload is not valid JSON"
printf '@ 0 pagerduty\n{"title": "x", "message": "y"}\n' |
	bad "wrong shape" "bad.scenario:2: payload declared pagerduty reads as json"
printf '@ 3 log\nok line ${int:5..1}\n' | bad "bad placeholder" 'bad.scenario:2: bad placeholder ${int:5..1}'
printf '@ 3 log\n{"looks": "like json"}\n' | bad "log line like JSON" "bad.scenario:2: a log line must not start"
printf '@ 1..5 alertmanager x3\n{}\n' | bad "repeat of a document" "bad.scenario:1: only log and json blocks repeat"
printf 'stray\n' | bad "text before a block" "bad.scenario:1: text before the first block"
printf '@ 1 log\n\n@ 2 log\nx\n' | bad "empty block" "bad.scenario:1: block without a payload"
run demo --speed 0 "$T/s0"
expect_rc 2 "speed 0"
run demo
expect_rc 2 "no spool directory"

# a small scenario: placeholders, repeats batched per second, raw kept verbatim
cat >"$T/small.scenario" <<'S'
@ 0.5 json
{"name": "A", "message": "at ${T+1} seq ${seq} id ${hex:8} ${uuid} $${literal}"}
@ 1..2.9 log x4
${now} line ${seq} ${pick:x|y}
@ 2 raw
{"broken":
S
run --json demo --speed 1000 --scenario "$T/small.scenario" "$T/small"
expect_rc 0 "small scenario"
expect_eq "$(json '[f["name"] for f in d["files"]]')" \
	"['000000-0001.json', '000001-0002.log', '000002-0003.json', '000002-0004.log']" "file names in delivery order"
expect_eq "$(json '[f["at"] for f in d["files"]]')" "[0.5, 1.6333333333333333, 2.0, 2.9]" "delivery times"
expect_eq "$(json '[f["records"] for f in d["files"]]')" "[1, 2, 1, 2]" "lines of one second share a file"
expect_eq "$(cat "$T/small/000002-0003.json")" '{"broken":' "raw payload verbatim"
expect_in "$(cat "$T/small/000000-0001.json")" 'seq 1 id ' "seq placeholder"
expect_in "$(cat "$T/small/000000-0001.json")" '${literal}' "escaped placeholder"
expect_eq "$(cat "$T/small/"*.log | sed -n 's/.* line \([0-9]\) .*/\1/p' | tr -d '\n')" "1234" "repeated lines numbered"
expect_eq "$(ls -A "$T/small" | grep -c '^\.')" 0 "no dotfiles left behind"
run demo --speed 1000 --scenario "$T/small.scenario" "$T/small"
expect_rc 1 "replay over an unconsumed replay"
expect_in "$err" "000000-0001.json exists" "refusal names the file"

# ---- the demo: timing and files ----------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/sitrep"
cat >"$XDG_CONFIG_HOME/sitrep/config" <<C
[ingest]
service = api
[correlate]
services = $D/services
C
S="$T/spool"
start=$(date +%s.%N)
history=no
if "$SITREP" --help | grep -q '^  import '; then history=yes; fi
if [ "$history" = yes ]; then
	run --json demo --speed 100 --history "$S"
else
	run --json demo --speed 100 "$S"
fi
expect_rc 0 "demo replay"
elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
expect_eq "$(json '90 <= d["duration_s"] <= 150')" True "scenario lasts about two minutes at speed 1"
expect_eq "$(json 'max(f["at"] for f in d["files"]) == d["duration_s"]')" True "duration is the last offset"
expect_eq "$(python3 -c "import sys; print(0.9 <= float(sys.argv[1]) < 60)" "$elapsed")" True \
	"speed 100 replays in about 1.2 s (took $elapsed s)"
expect_eq "$(json 'd["written"] == len(d["files"]) > 100')" True "every file written"
expect_eq "$(json '[f["name"] for f in d["files"]] == sorted(f["name"] for f in d["files"])')" True \
	"names sort in delivery order"
expect_eq "$(json 'sorted(set(f["format"] for f in d["files"]))')" \
	"['alertmanager', 'alertmanager-api', 'grafana', 'json', 'log', 'pagerduty', 'raw']" "every kind of source"
nfiles=$(json 'len(d["files"])')
expect_eq "$(ls "$S" | wc -l)" "$nfiles" "files in the spool"
if [ "$history" = yes ]; then
	expect_eq "$(json 'd["history"]["imported"]')" "$(grep -c . "$D/history.ndjson")" "history imported"
	expect_eq "$(sql "SELECT count(*) FROM incidents WHERE imported = 1 AND state = 'resolved'")" \
		"$(grep -c . "$D/history.ndjson")" "history is resolved incidents"
fi

# ---- ingest it: one deliberate reject ------------------------------------------
run ingest --spool "$S"
expect_rc 1 "ingest the demo (one deliberate reject)"
expect_eq "$(sql "SELECT count(*) FROM rejects")" 1 "exactly one reject"
expect_in "$(sql "SELECT origin || ' ' || reason FROM rejects")" "000055-0" "the reject is the truncated payload"
expect_eq "$(ls "$S/failed" | grep -vc '\.why$')" 1 "one file in failed/"
expect_eq "$(ls "$S/done" | wc -l)" "$((nfiles - 1))" "the rest in done/"

# ---- the story ---------------------------------------------------------------
live="imported = 0 AND state <> 'merged'"
expect_eq "$(sql "SELECT count(*) FROM incidents WHERE $live")" 2 "two incidents: the cascade and the certificate"
cascade=$(sql "SELECT incident_id FROM incident_clusters ic JOIN clusters c ON c.id = ic.cluster_id WHERE c.name = 'LedgerDBConnectionPoolExhausted'")
expect_eq "$(sql "SELECT c.service || ' ' || c.name FROM incidents i JOIN clusters c ON c.id = i.origin_cluster WHERE i.id = $cascade")" \
	"ledger-db LedgerDBConnectionPoolExhausted" "probable origin is the ledger-db pool"
expect_eq "$(sql "SELECT count(DISTINCT ic.incident_id) FROM alerts a JOIN incident_clusters ic ON ic.cluster_id = a.cluster_id WHERE a.service <> 'mail'")" \
	1 "every alert but mail's is in one incident"
expect_eq "$(sql "SELECT count(DISTINCT c.service) FROM incident_clusters ic JOIN clusters c ON c.id = ic.cluster_id WHERE ic.incident_id = $cascade AND c.service <> ''")" \
	5 "the cascade spans ledger-db, api, settlement-queue, settlement-worker, uploads"
expect_eq "$(sql "SELECT severity FROM incidents WHERE id = $cascade")" critical "cascade severity"
# silenced alerts open nothing: the replica-lag cluster stays out
expect_eq "$(sql "SELECT group_concat(name) FROM clusters WHERE id NOT IN (SELECT cluster_id FROM incident_clusters)")" \
	LedgerDBReplicaLag "only the silenced alert is in no incident"

# the floods fold: 270 api log lines, 130 settlement-worker retries
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE source = 'log'")" 270 "api log lines stored"
expect_eq "$(sql "SELECT count(DISTINCT cluster_id) FROM alerts WHERE source = 'log'")" 2 "api log flood in two clusters"
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE name = 'settlement.batch.retry'")" 130 "retry events stored"
expect_eq "$(sql "SELECT count(DISTINCT cluster_id) FROM alerts WHERE name = 'settlement.batch.retry'")" 1 "retry flood in one cluster"
expect_eq "$(sql "SELECT (SELECT count(*) FROM alerts) >= 15 * (SELECT count(*) FROM clusters)")" 1 \
	"alerts/clusters at least 15 ($(sql "SELECT count(*) FROM alerts")/$(sql "SELECT count(*) FROM clusters"))"

# each customer report joined the cascade by its firm, whose system alerts
# (not reports) were already there
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE name = 'Customer report'")" 4 "four customer reports"
python3 - "$SITREP_DB" "$cascade" <<'PY' && ok || fail "customer reports did not join by firm"
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
cascade = int(sys.argv[2])
bad = []
rows = con.execute("SELECT a.id, json_extract(a.labels, '$.firm'), ic.incident_id, ic.reason, "
                   "(SELECT min(b.id) FROM alerts b WHERE b.cluster_id = a.cluster_id) "
                   "FROM alerts a JOIN incident_clusters ic ON ic.cluster_id = a.cluster_id "
                   "WHERE a.name = 'Customer report' ORDER BY a.id").fetchall()
for aid, firm, inc, reason, first in rows:
    if inc != cascade:
        bad.append("report %d is in incident %d" % (aid, inc))
    if first == aid and reason != "same firm %s within 10m" % firm:
        bad.append("report %d joined: %s" % (aid, reason))
    sys_alerts = con.execute("SELECT count(*) FROM alerts a JOIN incident_clusters ic ON "
                             "ic.cluster_id = a.cluster_id WHERE ic.incident_id = ? AND "
                             "a.name <> 'Customer report' AND json_extract(a.labels, '$.firm') = ? "
                             "AND a.id < ?", (cascade, firm, aid)).fetchone()[0]
    if not sys_alerts:
        bad.append("no system alert of firm %s before report %d" % (firm, aid))
if len(rows) != 4:
    bad.append("%d reports" % len(rows))
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
run show "$cascade"
expect_in "$out" "impacted firm:" "show lists impacted firms"
expect_in "$out" "same firm f-0388 within 10m" "show gives the join reason"

# the certificate: its own low-severity incident of one cluster
mail=$(sql "SELECT incident_id FROM incident_clusters ic JOIN clusters c ON c.id = ic.cluster_id WHERE c.name = 'TLSCertificateExpiringSoon'")
[ -n "$mail" ] && [ "$mail" != "$cascade" ] && ok || fail "certificate alert is not apart ($mail vs $cascade)"
expect_eq "$(sql "SELECT severity FROM incidents WHERE id = '$mail'")" info "certificate incident is low severity"
expect_eq "$(sql "SELECT count(*) FROM incident_clusters WHERE incident_id = '$mail'")" 1 "certificate incident has one cluster"

# repeats and resolves were updates, not new alerts
expect_eq "$(sql "SELECT count(*) FROM alerts WHERE name = 'LedgerDBConnectionPoolExhausted'")" 1 "pool alert repeats fold"
expect_eq "$(sql "SELECT status FROM alerts WHERE name = 'APILatencyP99High'")" resolved "latency alert resolved"

# the memory: the month-end pool incident is among the most similar
if [ "$history" = yes ] && "$SITREP" --help | grep -q '^  similar '; then
	run --json similar --limit 3 "$cascade"
	expect_rc 0 "similar"
	expect_in "$out" '"INC-1873"' "the earlier month-end pool exhaustion is among the top 3"
fi
finish
