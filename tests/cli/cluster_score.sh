#!/bin/sh
# cluster_score.sh — the template miner on real labelled logs, so a drop in
# grouping quality fails CI. Floors are set just under what was measured
# (see NEWS); `make bench-cluster` prints the whole table.
. "$(dirname "$0")/lib.sh"
LOGHUB="$SHARED_BENCH/loghub2k"
if [ ! -d "$LOGHUB" ]; then
	echo "loghub2k not found beside the repository: skipped"
	exit 77
fi
# SYSTEM MODE FLOOR
for spec in "HDFS content 0.99" "HDFS raw 0.99" "Apache raw 0.99" "OpenSSH content 0.99" "OpenSSH raw 0.99" \
	"Linux content 0.99" "Linux raw 0.99" "Thunderbird raw 0.97" "BGL raw 0.97" "Hadoop raw 0.96"; do
	set -- $spec
	sys=$1 mode=$2 floor=$3
	mkdir -p "$T/$mode"
	if [ "$mode" = content ]; then
		(cd "$LOGHUB" && python3 content.py "$sys") | "$SITREP" cluster --ids >"$T/$mode/$sys.txt"
	else
		tr -d '\r' <"$LOGHUB/$sys/${sys}_2k.log" | "$SITREP" cluster --ids >"$T/$mode/$sys.txt"
	fi
	ga=$(cd "$LOGHUB" && python3 score.py --truth "$sys/${sys}_2k.log_structured_corrected.csv" "$T/$mode/$sys.txt" |
		sed -n 's/.* GA=\([0-9.]*\).*/\1/p' | head -1)
	if [ -n "$ga" ] && awk -v g="$ga" -v f="$floor" 'BEGIN { exit !(g >= f) }'; then
		ok
	else
		fail "$sys $mode GA '$ga' below $floor"
	fi
done
finish
