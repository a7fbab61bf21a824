#!/bin/sh
# tmux.sh — the console in a real terminal: start, resize, quit; two
# consoles on one file seeing each other's changes; the ingest lease taken
# over when its holder dies. Waits poll the screen with a deadline; no test
# step sleeps for a fixed time and hopes.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { echo "tmux not installed: skipped"; exit 77; }
export TMUX_TMPDIR="$T"
S="sitrep-test-$$"
tm() { tmux -L "$S" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color

# wait_for PANE REGEX SECONDS: poll the pane until the text appears
wait_for() {
	end=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -le "$end" ]; do
		if tm capture-pane -p -t "$1" 2>/dev/null | grep -q -- "$2"; then return 0; fi
		sleep 0.1
	done
	tm capture-pane -p -t "$1" >"$T/last-screen" 2>/dev/null
	return 1
}
shown() { if wait_for "$1" "$2" "$3"; then ok; else fail "$4 (screen: $(cat "$T/last-screen"))"; fi; }

mkdir -p "$XDG_CONFIG_HOME/sitrep" "$T/spool"
cat >"$XDG_CONFIG_HOME/sitrep/config" <<C
[sources]
spool = $T/spool
poll = 1s
C
"$SITREP" ingest "$FIXTURES/ui/page.ndjson" >/dev/null 2>&1

# start, and the first screen
tm new-session -d -s a -x 100 -y 30 "SITREP_USER=alice '$SITREP'"
shown a "Incidents: active" 10 "console A starts"
shown a "ingest on" 10 "console A holds the ingest lease"

# resize: the layout follows the terminal
tm resize-window -t a -x 80 -y 24 2>/dev/null || tm resize-pane -t a -x 80 -y 24
shown a "Customer message" 5 "redrawn after resize"
rows=$(tm capture-pane -p -t a | wc -l)
expect_eq "$rows" 24 "24 rows after resize"

# a second console on the same file: standby, and sees A's decisions
tm new-session -d -s b -x 100 -y 30 "SITREP_USER=bob '$SITREP'"
shown b "ingest standby" 10 "console B waits for the lease"
tm send-keys -t a g a
shown b " ack " 3 "B sees A's acknowledgement within a second"
expect_eq "$(sql "SELECT actor FROM audit WHERE action = 'ack'")" "alice" "the ack is alice's"

# A dies without a word: B takes the lease over and ingests
pid=$(tm list-panes -t a -F '#{pane_pid}')
kill -KILL "$pid"
shown b "ingest on" 15 "B takes over the lease within 10s of A's death"
cat >"$T/spool/late.ndjson" <<J
{"name":"DiskFull","service":"batch","severity":"critical","message":"disk full on /var","startsAt":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
J
shown b "DiskFull on batch" 10 "B ingests the spool after the takeover"
[ -f "$T/spool/done/late.ndjson" ] && ok || fail "spool file not moved to done/"

# quit
tm send-keys -t b q
end=$(( $(date +%s) + 5 ))
while tm has-session -t b 2>/dev/null && [ "$(date +%s)" -le "$end" ]; do sleep 0.1; done
if tm has-session -t b 2>/dev/null; then fail "q did not quit"; else ok; fi
finish
