#!/bin/sh
# console.sh BUILDDIR — the console's figures on a big database:
#   start to first full screen, 1,000,000 alerts in 10,000 incidents
#   key-to-redraw p50/p99 while ingest runs at 10,000 alerts/s
#   the console's peak RSS on that database
set -eu
B=$1
W=$(mktemp -d "${TMPDIR:-/tmp}/sitrep-console-XXXXXX")
S="sitrep-bench-$$"
trap 'tmux -L "$S" kill-server 2>/dev/null || true; rm -rf "$W"' EXIT
export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state" LANG=C.UTF-8 TERM=xterm-256color
mkdir -p "$XDG_CONFIG_HOME/sitrep" "$W/spool"
N=${BENCH_CONSOLE_ALERTS:-1000000}
INC=${BENCH_CONSOLE_INCIDENTS:-10000}
DB="$W/big.db"

echo "== console: building a database of $N alerts in $INC incidents"
python3 - "$W/alerts.ndjson" "$N" "$INC" <<'PY'
import sys, datetime
path, n, inc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = datetime.datetime.now(datetime.timezone.utc)
with open(path, "w") as f:
    for i in range(n):
        k = i % inc
        t = (now - datetime.timedelta(seconds=(n - i) * 3600.0 / n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        f.write('{"name":"Err%d","service":"svc-%d","severity":"%s","message":"request %d failed after %dms","dedup_key":"k%d","startsAt":"%s"}\n'
                % (k, k, ("critical", "high", "warning", "info")[k % 4], i, i % 997, i, t))
PY
"$B/sitrep" --db "$DB" ingest "$W/alerts.ndjson" >/dev/null
"$B/sitrep" --db "$DB" stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  %d alerts, %d incidents" % (d["alerts"], d["incidents"]))'

echo "== start to first full screen (median and max of 10)"
printf 'q\n' >"$W/quit.keys"
python3 - "$B/sitrep" "$DB" "$W/quit.keys" <<'PY'
import os, subprocess, sys, time
sitrep, db, keys = sys.argv[1:4]
env = dict(os.environ, SITREP_SCRIPT=keys, COLUMNS="120", LINES="40")
t = []
for _ in range(10):
    t0 = time.monotonic()
    subprocess.run([sitrep, "--db", db], env=env, check=True)
    t.append((time.monotonic() - t0) * 1000)
t.sort()
print("  median %.1f ms, max %.1f ms (floor < 100 ms)" % (t[len(t) // 2], t[-1]))
PY

echo "== key-to-redraw while ingest runs at 10,000 alerts/s"
cat >"$XDG_CONFIG_HOME/sitrep/config" <<C
[sources]
spool = $W/spool
poll = 1s
C
tmux -L "$S" new-session -d -s c -x 120 -y 40 "SITREP_LATENCY_LOG='$W/lat' '$B/sitrep' --db '$DB'"
python3 - "$W/spool" 12 <<'PY' &
import sys, time, datetime
spool, seconds = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < seconds:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = "%s/.f%06d" % (spool, i)
    with open(name, "w") as f:
        for j in range(1000):
            k = (i * 1000 + j) % 500
            f.write('{"name":"Live%d","service":"live-%d","severity":"high","message":"timeout %d after %dms","startsAt":"%s"}\n' % (k, k % 50, j, j % 300, now))
    import os
    os.rename(name, "%s/f%06d.ndjson" % (spool, i))
    i += 1
    time.sleep(max(0, t0 + i * 0.1 - time.monotonic()))
print("  fed %d alerts in %d s" % (i * 1000, seconds))
PY
feeder=$!
sleep 2
k=0
while [ $k -lt 300 ]; do
	if [ $((k % 2)) -eq 0 ]; then key=j; else key=k; fi
	tmux -L "$S" send-keys -t c "$key"
	sleep 0.03
	k=$((k + 1))
done
wait $feeder
pid=$(tmux -L "$S" list-panes -t c -F '#{pane_pid}')
rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
tmux -L "$S" send-keys -t c q
python3 - "$W/lat" <<'PY'
import sys
v = sorted(int(x) for x in open(sys.argv[1]) if x.strip())
if not v:
    print("  no key presses were measured"); sys.exit(1)
p = lambda q: v[min(len(v) - 1, int(q * len(v)))] / 1000.0
print("  %d keys: p50 %.2f ms, p99 %.2f ms, max %.2f ms (floor p99 < 30 ms)" % (len(v), p(0.5), p(0.99), v[-1] / 1000.0))
PY
echo "  console peak RSS: $((rss / 1024)) MB (floor < 32 MB)"
ingested=$(ls "$W/spool/done" 2>/dev/null | wc -l)
echo "  spool files ingested meanwhile: $ingested"
