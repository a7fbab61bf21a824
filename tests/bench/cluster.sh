#!/bin/sh
# cluster.sh BUILDDIR SRCDIR — `make bench-cluster`: group every loghub-2k
# system with `sitrep cluster --ids` in two modes and score it.
#   content  the message part (content.py: header split off per system, as
#            in the published tables)
#   raw      the whole lines, no per-system format at all
# Then throughput on >= 1M raw lines, and peak RSS with and without a
# template cap.
set -eu
B=$1
S=$2
LOGHUB="$S/../shared/bench/loghub2k"
W=$(mktemp -d "${TMPDIR:-/tmp}/sitrep-cluster-XXXXXX")
trap 'rm -rf "$W"' EXIT
[ -d "$LOGHUB" ] || { echo "bench-cluster: $LOGHUB not found" >&2; exit 1; }
export XDG_CONFIG_HOME="$W/config" # no user rules: the one built-in configuration

for mode in content raw; do
	mkdir -p "$W/$mode"
	for d in "$LOGHUB"/*/; do
		sys=$(basename "$d")
		[ -f "$d/${sys}_2k.log" ] || continue
		if [ $mode = content ]; then
			(cd "$LOGHUB" && python3 content.py "$sys") | "$B/sitrep" cluster --ids >"$W/$mode/$sys.txt"
		else
			tr -d '\r' <"$d/${sys}_2k.log" | "$B/sitrep" cluster --ids >"$W/$mode/$sys.txt"
		fi
	done
	echo "== $mode mode"
	(cd "$LOGHUB" && python3 score.py "$W/$mode")
done

echo "== throughput: sitrep cluster --ids on raw lines, one core"
for f in "$LOGHUB"/*/*_2k.log; do tr -d '\r' <"$f"; echo; done | grep -v '^$' >"$W/once.log"
: >"$W/big.log"
while [ "$(wc -l <"$W/big.log")" -lt 1000000 ]; do cat "$W/once.log" >>"$W/big.log"; done
cat "$W/big.log" "$W/big.log" >"$W/big2.log"
python3 - "$B/sitrep" "$W/big.log" "$W/big2.log" <<'PY'
import resource, subprocess, sys, time
sitrep, big, big2 = sys.argv[1:4]
def run(path, extra):
    lines = sum(1 for _ in open(path, "rb"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    with open(path, "rb") as f:
        subprocess.run([sitrep, "cluster", "--ids"] + extra, stdin=f,
                       stdout=subprocess.DEVNULL, check=True)
    dt = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return lines, dt, rss
# ru_maxrss of children is the maximum over all children so far: run the
# smaller jobs first so each figure is that run's own peak
for label, path, extra in (("cap 500, 1x", big, ["--max-templates", "500"]),
                           ("cap 500, 2x", big2, ["--max-templates", "500"]),
                           ("default cap", big, [])):
    lines, dt, rss = run(path, extra)
    print("  %-12s %8d lines  %6.2f s  %9.0f lines/s  peak RSS %6.1f MB"
          % (label, lines, dt, lines / dt, rss / 1024))
print("  (floor: 1,000,000 lines/s; RSS flat once the cap is reached)")
PY
# The miner in-process (no reading or printing), repeated and on the first
# pass alone: repetition lets the miner's cache of masked token sequences
# answer repeated lines, which real streams also do, but less.
if [ -x "$B/tests/bench/bench_mask" ]; then
	set -- $("$B/tests/bench/bench_mask" --miner "$W/once.log" 1000000)
	printf '  in-process miner: %s lines/s repeated; first pass alone (%s lines): %s lines/s\n' \
		"$3" "$4" "$6"
fi
