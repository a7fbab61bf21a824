#!/bin/sh
# incidents.sh — incidents through the CLI: correlation from a file of
# alerts, every lifecycle command with its audit row, errors, stats.
. "$(dirname "$0")/lib.sh"
mkdir -p "$XDG_CONFIG_HOME/sitrep"
cat >"$XDG_CONFIG_HOME/sitrep/services" <<'G'
api -> ledger-db
G
at() { python3 -c "import datetime,sys; print((datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=int(sys.argv[1]))).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$1"; }
cat >"$T/page.ndjson" <<J
{"name":"DBPoolExhausted","service":"ledger-db","severity":"critical","message":"pool exhausted: 50 of 50","dedup_key":"p1","startsAt":"$(at 9)"}
{"name":"API5xx","service":"api","severity":"high","message":"5xx rate 12%","dedup_key":"a1","startsAt":"$(at 8)"}
{"name":"Customer report","service":"support","severity":"high","message":"statement upload stuck","firm":"f-1042","startsAt":"$(at 5)"}
{"name":"UploadErrors","service":"uploads","severity":"high","message":"upload failed","labels":{"firm":"f-1042"},"startsAt":"$(at 4)"}
J
run ingest "$T/page.ndjson"
expect_rc 0 "ingest the page"
run --json list
expect_eq "$(json 'len(d["incidents"])')" 2 "two incidents"
expect_eq "$(json 'sorted(i["title"] for i in d["incidents"])')" \
	"['Customer report on support', 'DBPoolExhausted on ledger-db']" "incident titles"
db_inc=$(json '[i["id"] for i in d["incidents"] if i["title"].startswith("DBPool")][0]')
cr_inc=$(json '[i["id"] for i in d["incidents"] if i["title"].startswith("Customer")][0]')

run --json show "$db_inc"
expect_eq "$(json 'sorted(c["reason"] for c in d["incident"]["clusters"])')" \
	"['api depends on ledger-db, within 10m', 'opened']" "join reasons"
expect_eq "$(json 'd["incident"]["severity"], d["incident"]["state"]')" "('critical', 'open')" "incident fields"
run show "$cr_inc"
expect_in "$out" "impacted firm: f-1042" "impacted firm shown"
expect_in "$out" "same firm f-1042 within 10m" "label join reason shown"
run show --cluster 1
expect_rc 0 "show --cluster"
expect_in "$out" "template:" "cluster view"
run list --clusters
expect_in "$out" "DBPoolExhausted" "list --clusters"

export SITREP_USER=alice SSH_CLIENT="198.51.100.7 50123 22"
run ack "$db_inc"
expect_rc 0 "ack"
expect_in "$out" "acknowledged" "ack message"
run ack "$db_inc"
expect_rc 2 "ack twice"
expect_in "$err" "is acknowledged" "ack twice message"
run note "$db_inc" pool size raised to 80
expect_rc 0 "note"
run snooze "$cr_inc" 30m
expect_rc 0 "snooze"
run snooze "$cr_inc" soon
expect_rc 2 "snooze bad duration"
run resolve "$db_inc" --cause "pool too small for month-end load" --action "raised pool to 80" --worked yes
expect_rc 0 "resolve"
run resolve "$db_inc" --cause x
expect_rc 2 "resolve without action"
run reopen "$db_inc"
expect_rc 0 "reopen"
run ticket "$db_inc" OPS-1234
expect_rc 0 "ticket"
run merge "$db_inc" "$cr_inc"
expect_rc 0 "merge"
run --json show "$cr_inc"
expect_eq "$(json 'd["incident"]["state"], d["incident"]["merged_into"]')" "('merged', $db_inc)" "merged state"
c=$(sql "SELECT c.id FROM clusters c WHERE c.name = 'UploadErrors'")
run --json split "$db_inc" "$c"
expect_rc 0 "split"
new=$(json 'd["new_incident"]')
expect_eq "$(sql "SELECT incident_id FROM incident_clusters WHERE cluster_id = $c")" "$new" "split moved the cluster"
run ack 999
expect_rc 1 "ack missing incident"
expect_in "$err" "no incident 999" "missing incident message"
run ack abc
expect_rc 2 "ack bad id"

# every action left an audit row with the user and the SSH origin
for a in ack note snooze resolve reopen ticket merge split; do
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE action = '$a' AND actor = 'alice' AND origin = 'ssh:198.51.100.7'")" 1 "audit row for $a"
done
run show "$db_inc"
expect_in "$out" "pool size raised to 80" "note on the timeline"
expect_in "$out" "resolved: cause: pool too small" "resolution on the timeline"

# read-only review of a copy: reads work, actions say they cannot write
cp "$SITREP_DB" "$T/copy.db"
run --db "$T/copy.db" --read-only --json list --state all
expect_rc 0 "read-only list"
run --db "$T/copy.db" --read-only ack "$new"
expect_rc 2 "read-only ack refused"
expect_in "$err" "is open read-only" "read-only message"
expect_eq "$(SITREP_DB="$T/copy.db" sql "SELECT count(*) FROM audit WHERE action = 'ack'")" 1 "nothing written to the copy"

# stats arithmetic on known durations
python3 - "$SITREP_DB" <<'PY'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
con.execute("DELETE FROM incidents WHERE id NOT IN (SELECT incident_id FROM incident_clusters) AND state <> 'merged'")
# five resolved incidents opened an hour ago: acked after 1..5 min, resolved after 10..50 min
for k in range(1, 6):
    con.execute("INSERT INTO incidents (title, severity, state, opened_at, last_alert_at, acked_at, resolved_at, services) VALUES (?, 'high', 'resolved', ?, ?, ?, ?, '[\"svc-stats\"]')",
                ("t%d" % k, now - 3600000, now - 3600000, now - 3600000 + k * 60000, now - 3600000 + k * 600000))
con.commit()
PY
run --json stats --since 7d
expect_eq "$(json 'd["period"]["mtta"]["count"] >= 5')" True "mtta count"
expect_eq "$(json '[s["incidents"] for s in d["period"]["per_service"] if s["service"] == "svc-stats"][0]')" 5 "incidents per service"
python3 - "$SITREP_DB" "$out" <<'PY' && ok || fail "stats median/p90 do not match the data"
import json, sqlite3, sys
d = json.loads(sys.argv[2])
con = sqlite3.connect(sys.argv[1])
def pct(vals, p):
    vals = sorted(vals)
    import math
    k = max(1, math.ceil(p * len(vals)))
    return vals[k - 1] / 1000.0
a = [r[0] for r in con.execute("SELECT acked_at - opened_at FROM incidents WHERE acked_at IS NOT NULL AND imported = 0")]
r = [r[0] for r in con.execute("SELECT resolved_at - opened_at FROM incidents WHERE resolved_at IS NOT NULL AND state = 'resolved' AND imported = 0")]
m = d["period"]
ok = abs(m["mtta"]["median_s"] - pct(a, 0.5)) < 0.01 and abs(m["mtta"]["p90_s"] - pct(a, 0.9)) < 0.01 \
    and abs(m["mttr"]["median_s"] - pct(r, 0.5)) < 0.01 and abs(m["mttr"]["p90_s"] - pct(r, 0.9)) < 0.01
sys.exit(0 if ok else 1)
PY
run stats
expect_in "$out" "MTTA  median" "stats text"
expect_in "$out" "noise funnel" "funnel text"
finish
