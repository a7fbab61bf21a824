#!/bin/sh
# kill.sh — SIGKILL at any moment leaves a database that passes
# integrity_check, with every committed batch whole and no partial batch.
. "$(dirname "$0")/lib.sh"
mkdir -p "$XDG_CONFIG_HOME/sitrep"
printf '[ingest]\nbatch = 500\n' >"$XDG_CONFIG_HOME/sitrep/config"
python3 - "$T/load.ndjson" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(150000):
        f.write('{"name":"Load%d","service":"svc%d","message":"request %d failed after %dms","dedup_key":"k%d"}\n'
                % (i % 37, i % 5, i, i % 997, i))
PY
for delay in 0.05 0.15 0.3 0.6 1.0; do
	db="$T/kill-$delay.db"
	"$SITREP" --db "$db" ingest "$T/load.ndjson" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ -f "$db" ] || { ok; continue; } # killed before it even opened: fine
	export SITREP_DB="$db"
	run db check
	expect_rc 0 "integrity after kill at ${delay}s"
	n=$(sql "SELECT count(*) FROM alerts")
	r=$(sql "SELECT count(*) FROM records")
	expect_eq "$n" "$r" "alerts and records agree after kill at ${delay}s"
	expect_eq "$((n % 500))" 0 "whole batches only after kill at ${delay}s (got $n)"
	# the alerts present are exactly the first n lines, in order
	expect_eq "$(sql "SELECT coalesce(max(CAST(substr(dedup_key, 2) AS INTEGER)), -1) FROM alerts")" \
		"$((n - 1))" "no gaps after kill at ${delay}s"
done
finish
