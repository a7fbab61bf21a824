#!/bin/sh
# run.sh BUILDDIR SRCDIR — `make bench`: the figures the issues ask for,
# measured on this machine, printed. Never part of `make check`.
set -eu
B=$1
S=$2
LOGHUB="$S/../shared/bench/loghub2k"
W=$(mktemp -d "${TMPDIR:-/tmp}/sitrep-bench-XXXXXX")
trap 'rm -rf "$W"' EXIT
N=${BENCH_ALERTS:-1000000}

if [ ! -d "$LOGHUB" ]; then
	echo "bench: $LOGHUB not found (the shared benchmark data sits beside the repository)" >&2
	exit 1
fi

echo "== masking + fingerprint, one core (raw loghub-2k lines, repeated to >= 1M)"
for f in "$LOGHUB"/*/*_2k.log; do tr -d '\r' <"$f"; echo; done | grep -v '^$' >"$W/raw.log"
set -- $("$B/tests/bench/bench_mask" "$W/raw.log" 1000000)
printf '  %s lines in %s s: %s lines/s (floor 1000000)\n' "$1" "$2" "$3"
printf '  first pass alone (%s distinct lines, no repetition): %s lines/s\n' "$4" "$6"

echo "== ingest of $N generic NDJSON alerts vs raw SQLite inserts of the same rows"
python3 - "$W/alerts.ndjson" "$N" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        f.write('{"name":"Load%d","service":"svc%d","message":"request %d failed after %dms",'
                '"labels":{"firm":"f-%d"},"dedup_key":"k%d"}\n'
                % (i % 37, i % 5, i, i % 997, i % 1000, i))
PY
t0=$(date +%s.%N)
"$B/sitrep" --db "$W/ingest.db" ingest "$W/alerts.ndjson" >/dev/null
t1=$(date +%s.%N)
ingest_rate=$(echo "$N $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2)}')
raw_rate=$("$B/tests/bench/bench_insert" "$W/raw.db" "$N" 5000)
rec_rate=$("$B/tests/bench/bench_insert" "$W/raw2.db" "$N" 5000 records)
echo "$ingest_rate $raw_rate $rec_rate" | awk '{printf "  sitrep ingest:             %d alerts/s persisted\n  raw insert, alert rows:    %d rows/s   ratio %.2f (floor 0.60)\n  raw insert, record+alert:  %d pairs/s  ratio %.2f (what keeping every input verbatim costs)\n", $1, $2, $1 / $2, $3, $1 / $3}'
