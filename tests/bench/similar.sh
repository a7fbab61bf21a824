#!/bin/sh
# similar.sh BUILDDIR SRCDIR — `make bench-similar`: how well `sitrep similar`
# finds past incidents that share a cause, on real public post-mortems
# (../shared/bench/postmortems, leave-one-out, scored by its score.py), and
# how fast it is over 100,000 incidents of history. Never part of make check.
set -eu
B=$1
S=$2
PM="$S/../shared/bench/postmortems"
SCORE="$PM/score.py"
DATA="$PM/aws_azure.json"
N=${BENCH_HISTORY:-100000}
W=$(mktemp -d "${TMPDIR:-/tmp}/sitrep-bench-similar-XXXXXX")
trap 'rm -rf "$W"' EXIT

if [ ! -f "$DATA" ]; then
	echo "bench-similar: $DATA not found (the shared benchmark data sits beside the repository)" >&2
	exit 1
fi

# The protocol (score.py): every labelled incident in turn is the query;
# the history is every *other* incident. All of them are imported once; the
# query's own id is left out with --exclude (score.py would ignore it too).
# The live query is title, summary and services; --with-details adds the
# details narrative: score.py --export writes the query texts of each.
"$SCORE" "$DATA" --export "$W/live" >/dev/null
"$SCORE" "$DATA" --export "$W/details" --with-details >/dev/null
"$B/sitrep" --db "$W/pm.db" import "$W/live/history.ndjson" >/dev/null

rank() { # QUERIES PRED
	python3 - "$B/sitrep" "$W/pm.db" "$1" "$2" <<'PY'
import json, subprocess, sys
sitrep, db, queries, pred = sys.argv[1:]
with open(queries, encoding="utf-8") as f, open(pred, "w", encoding="utf-8") as out:
    for line in f:
        q = json.loads(line)
        r = subprocess.run([sitrep, "--db", db, "--json", "similar", "--limit", "10",
                            "--exclude", q["query"], "--text", q["text"]],
                           check=True, capture_output=True, text=True)
        ranked = [h["id"] for h in json.loads(r.stdout)]
        out.write(json.dumps({"query": q["query"], "ranked": ranked}) + "\n")
PY
}

echo "== similar past incidents: $(basename "$DATA"), leave one out"
for v in live details; do
	rank "$W/$v/queries.ndjson" "$W/pred-$v.ndjson"
	flag=; [ "$v" = details ] && flag=--with-details
	ours=$("$SCORE" "$DATA" "$W/pred-$v.ndjson")
	base=$("$SCORE" "$DATA" --baseline $flag | sed -n 's/^bm25 *//p')
	printf '  %-8s sitrep similar: %s\n' "$v" "$ours"
	printf '  %-8s plain BM25:     %s\n' "" "$base"
done

echo "== latency over $N incidents of history"
# Synthetic history: the real post-mortems over and over, each copy with
# about 15% of its words replaced (other words of the corpus, random ids,
# numbers), a new id and a new date.
python3 - "$W/live/history.ndjson" "$N" "$W/big.ndjson" <<'PY'
import json, random, re, sys
src = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
n = int(sys.argv[2])
vocab = sorted({w for h in src for k in ("title", "summary", "details", "root_cause", "mitigation")
                for w in re.findall(r"[A-Za-z]{3,}", h[k])})
def perturb(s, r):
    out = []
    for w in re.split(r"(\s+)", s):
        if w.strip() and r.random() < 0.15:
            c = r.random()
            if c < 0.5:
                w = r.choice(vocab)
            elif c < 0.8:
                w = "%s-%x" % (r.choice(("vm", "node", "db", "req", "cluster", "host")), r.getrandbits(24))
            else:
                w = str(r.randrange(100000))
        out.append(w)
    return "".join(out)
with open(sys.argv[3], "w", encoding="utf-8") as f:
    for i in range(n):
        h = src[i % len(src)]
        r = random.Random(i)
        o = {"id": "syn-%d" % i, "services": h["services"],
             "time": "%04d-%02d-%02d" % (r.randrange(2010, 2025), r.randrange(1, 13), r.randrange(1, 29))}
        for k in ("title", "summary", "details", "root_cause", "mitigation"):
            o[k] = perturb(h[k], r)
        f.write(json.dumps(o, ensure_ascii=False) + "\n")
PY
t0=$(date +%s.%N)
"$B/sitrep" --db "$W/big.db" import "$W/big.ndjson" >/dev/null
t1=$(date +%s.%N)
echo "$N $t0 $t1" | awk '{printf "  import:        %d incidents in %.1f s (index built)\n", $1, $3 - $2}'
# in-process: the ranking call itself, every live and with-details query
"$B/tests/bench/bench_similar" "$W/big.db" "$W/live/queries.ndjson" "$W/details/queries.ndjson"
# the whole command, process start and all, for the live queries
python3 - "$B/sitrep" "$W/big.db" "$W/live/queries.ndjson" <<'PY'
import json, subprocess, sys, time
sitrep, db, queries = sys.argv[1:]
ts = []
for line in open(queries, encoding="utf-8"):
    q = json.loads(line)
    t = time.perf_counter()
    subprocess.run([sitrep, "--db", db, "--json", "similar", "--text", q["text"]],
                   check=True, stdout=subprocess.DEVNULL)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print("  sitrep similar (whole process, live queries): p50 %.1f ms  p95 %.1f ms  (%d runs)"
      % (ts[len(ts) // 2], ts[int(len(ts) * 0.95)], len(ts)))
PY
