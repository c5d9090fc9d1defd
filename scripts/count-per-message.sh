#!/bin/bash
# Counts what one message costs a running `correio serve`, in figures that do not depend on how
# busy the machine is: user-space instructions (valgrind's callgrind, all threads), system calls
# (strace -c, all threads), or, for comparison, CPU time and minor faults from /proc; threads gives
# that CPU time per thread (/proc/PID/task/*/schedstat: exact), split into user and system time by
# the kernel's tick samples (/proc/PID/task/*/stat: noise under ~0.1 ms per message). The main
# thread is listed first, then the others in the order they started: V8's platform workers
# (garbage collection, compilation), then libuv's thread pool (fdatasync, batched log appends).
# switches counts what the machine does between threads for each message: context switches
# (/proc/stat ctxt), function-call and rescheduling interrupts between CPUs (/proc/interrupts CAL
# and RES: in a VM each is an exit to the host), and each program's switches by its command name
# (/proc/*/task/*/status: smtp-source, the loop device's kworkers, ksoftirqd, node ...), correio's
# server and acceptor threads apart; the Node sink (floor:plain) gives the floor to compare with.
# profile runs the server under `node --cpu-prof` and, after the measured batch, stops it and
# summarises its V8 profile (self time by area and function; the warm-up is in it too, so use a
# large N); the .cpuprofile files (the acceptors' too) stay in the work directory, whose path
# is printed first (on stderr), with correio's log in serve.log.
#
#   [PROCESSES=2] scripts/count-per-message.sh instructions|syscalls|cpu|threads|switches|profile accept|maildir|relay TREE|floor:plain|floor:lean|floor:smtp-sink [N] [WARM]
#
# COUNT_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is given to node for `serve`
# (acceptor processes inherit it); serve is stopped with SIGTERM at the end and waited for, so a
# profile is written.
# COUNT_KEEP=1 keeps the work directory's spool and mailboxes, removed at exit otherwise.
# System time depends on other processes here: on ext4 without a journal (this project's shared
# machines: /proc/fs/jbd2 lists no journal for the disk) the inode allocator passes over the
# group's free inodes freed in the last 60 s (300 s more while their inode-table block is dirty)
# until one was not, an inode-table lookup each (the kernel's recently_deleted), so while anyone
# removes files near the work directory each Maildir file created costs the server's main thread more
# system time (0.10-0.12 -> 0.34-0.61 ms per message; docs/performance.md, session 14; a sync
# and a wait before the batch did not help, the removals go on meanwhile). `perf record -g -p
# PID` shows it; user time and system call counts do not move with it: compare trees by those.
#
# TREE is a built checkout (its bin/correio.js and dist/); run it on two trees (e.g. main and a
# `git worktree add --detach` of an older commit, each built with `npx tsc -p tsconfig.json`) to
# compare them. TREE floor:plain or floor:lean (scenario accept only) runs
# scripts/smtp-floor-sink.mjs instead of correio, and floor:smtp-sink Postfix's smtp-sink (C):
# the floor a plain Node (or C) SMTP sink sets under the same load. The load is Postfix's smtp-source (scripts/bench-setup.sh --install): WARM
# messages first, then N measured, 20 sessions, 5,120 octets, as `npm run bench` sends. accept
# routes the mail to a host that never answers (the queue holds it); maildir delivers it to a
# local mailbox and waits until every message is there; relay sends it on to Postfix's smtp-sink
# on 127.0.0.1 and waits until the sink has counted every message. Needs valgrind or strace for
# those modes.
# Under valgrind everything runs ~50x slower, so timer-driven work weighs more per message than
# natively: compare trees with the same N and WARM, don't read the figure as an absolute cost.
set -euo pipefail
MODE=${1:?mode: instructions|syscalls|cpu|threads|switches|profile}; SCEN=${2:?scenario: accept|maildir|relay}; TREE=${3:?tree: a built checkout}
N=${4:-300}; WARM=${5:-300}
case $MODE in instructions|syscalls|cpu|threads|switches|profile) ;; *) echo "count-per-message: mode \"$MODE\" is not instructions, syscalls, cpu, threads, switches or profile" >&2; exit 64 ;; esac
case $SCEN in accept) TO=b@example.net ;; maildir) TO=benchmd@localhost ;; relay) TO=b@relay.example ;; *) echo "count-per-message: scenario \"$SCEN\" is not accept, maildir or relay" >&2; exit 64 ;; esac
# TREE floor:plain or floor:lean runs scripts/smtp-floor-sink.mjs (plain Node, no spool) instead
# of correio, under the same load: the floor Node itself sets (accept only); floor:smtp-sink runs
# Postfix's smtp-sink (C) for comparison
FLOOR=""
case $TREE in
  floor:plain|floor:lean|floor:smtp-sink) FLOOR=${TREE#floor:}; [ "$SCEN" = accept ] || { echo "count-per-message: $TREE measures accept only" >&2; exit 64; } ;;
  floor:*) echo "count-per-message: $TREE is not floor:plain, floor:lean or floor:smtp-sink" >&2; exit 64 ;;
  *) [ -f "$TREE/bin/correio.js" ] && [ -d "$TREE/dist" ] || { echo "count-per-message: $TREE is not a built checkout (no bin/correio.js or dist/; run npx tsc -p tsconfig.json there)" >&2; exit 66; }
     TREE=$(cd "$TREE" && pwd) ;;
esac
SRC=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$SRC" ] || { echo "count-per-message: smtp-source not found (scripts/bench-setup.sh --install)" >&2; exit 69; }
W=$(mktemp -d "${TMPDIR:-/tmp}/count-XXXXXX")
echo "count-per-message: work directory $W" >&2
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
PORT=$(free_port); HOLE=$(free_port); SINK=$(free_port)
node -e "require('net').createServer((s)=>s.on('error',()=>{})).listen($HOLE,'127.0.0.1')" & HOLE_PID=$!
SINK_PID=""
SINKER=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
SINK_USER=(); [ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)
if [ "$SCEN" = relay ] || [ "$FLOOR" = smtp-sink ]; then
  [ -x "$SINKER" ] || { echo "count-per-message: smtp-sink not found (scripts/bench-setup.sh --install)" >&2; exit 69; }
fi
if [ "$SCEN" = relay ]; then
  # -c: running counters ("mesg=N", CR-separated) on stdout; not -M N (it exits before replying)
  "$SINKER" "${SINK_USER[@]}" -c "127.0.0.1:$SINK" 1000 > "$W/sink.out" 2>&1 & SINK_PID=$!
fi
# the spool and mailboxes (hundreds of MB a run) go at exit, once the server has ended; the
# reports named above (strace, callgrind, profiles, serve.log) stay, and COUNT_KEEP=1 keeps all
trap 'kill $HOLE_PID $SINK_PID 2>/dev/null; [ -n "${SERVER:-}" ] && kill $SERVER 2>/dev/null && wait $SERVER 2>/dev/null; [ -z "${COUNT_KEEP:-}" ] && rm -rf "$W/data"; true' EXIT
# one process unless PROCESSES says more (`[smtp] processes`, 2 by default since issue 19): then
# threads and syscalls count the acceptor processes' threads too (instructions and cpu see the
# server only), and threads says how much mail each process received.
# A tree older than that key has no such line and runs one process anyway
PROCS=""
grep -qs processes "$TREE/dist/src/config/config-schema.js" && PROCS="processes = ${PROCESSES:-1}"
cat > "$W/correio.toml" <<CONF
hostname = "bench.localhost"
data_dir = "$W/data"
local_domains = ["localhost"]
[smtp]
listen = ["127.0.0.1:$PORT"]
$PROCS
[delivery.routes]
"example.net" = "smtp:[127.0.0.1]:$HOLE"
"relay.example" = "smtp:[127.0.0.1]:$SINK"
[http]
listen = []
[imap]
listen = []
CONF
mkdir -p "$W/data"
[ -n "$FLOOR" ] || node "$TREE/bin/correio.js" user add benchmd@localhost --config "$W/correio.toml" > /dev/null
MD=$W/data/mail/localhost/benchmd
delivered() {
  if [ "$SCEN" = relay ]; then tail -c 200 "$W/sink.out" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 | grep . || echo 0
  else echo $(( $(ls "$MD/new" 2>/dev/null | wc -l) + $(ls "$MD/cur" 2>/dev/null | wc -l) )); fi
}
wait_delivered() {
  [ "$SCEN" != accept ] || return 0
  for _ in $(seq 1 6000); do [ "$(delivered)" -ge "$1" ] && return 0; sleep 0.2; done
  echo "count-per-message: only $(delivered) of $1 messages delivered" >&2; exit 75
}
WRAP=()
NODEARGS=()
[ "$MODE" = instructions ] && WRAP=(valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file "--callgrind-out-file=$W/callgrind.out")
# the acceptors are forked with the server's node options: their profiles are written too
[ "$MODE" = profile ] && NODEARGS=(--cpu-prof "--cpu-prof-dir=$W/prof")
# shellcheck disable=SC2206 # COUNT_NODE_FLAGS is a list of flags
NODE=(node ${COUNT_NODE_FLAGS:-} "${NODEARGS[@]}")
case $FLOOR in
  "") SERVE=("${NODE[@]}" "$TREE/bin/correio.js" serve --config "$W/correio.toml") ;;
  smtp-sink) SERVE=("$SINKER" "${SINK_USER[@]}" "127.0.0.1:$PORT" 1000) ;;
  *) SERVE=("${NODE[@]}" "$(cd "$(dirname "$0")" && pwd)/smtp-floor-sink.mjs" "$FLOOR" "$PORT") ;;
esac
(cd "$W" && exec "${WRAP[@]}" "${SERVE[@]}" > "$W/serve.log" 2>&1) & SERVER=$!
until (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
  kill -0 $SERVER 2>/dev/null || { echo "count-per-message: correio did not start; $W/serve.log:" >&2; tail -3 "$W/serve.log" >&2; exit 70; }
  sleep 0.5
done
PID=$(pgrep -P $SERVER -f "correio.js serve|smtp-floor-sink" || echo $SERVER)
# the acceptor processes, once started (their SMTP sessions are counted with the server's threads,
# their system calls apart)
for _ in $(seq 1 300); do [ "$FLOOR" = smtp-sink ] || grep -qs 'correio started\|smtp-floor-sink' "$W/serve.log" && break; sleep 0.2; done
PIDS="$PID $( (pgrep -P "$PID" -f acceptor-main || true) | tr "\n" " ")"
# each thread's id, user and system ticks (/proc/.../stat: the fields after the name are counted
# from its ")") and time on a CPU in ns (/proc/.../schedstat: exact, where the ticks are sampled)
tasks() { for p in $PIDS; do for t in /proc/$p/task/*; do sed 's/.*) //' "$t/stat" | awk -v id="${t##*/}" -v ns="$(cut -d' ' -f1 "$t/schedstat")" -v pid="$p" '{print id, $12, $13, ns, pid}'; done; done | sort; }
# every thread on the machine: its id, command name (spaces made _), process id (its /proc
# directory) and context switches so far (voluntary + not); then the machine's own counters on a
# line of their own
switches() {
  for t in /proc/[0-9]*/task/[0-9]*; do
    p=${t#/proc/}
    awk -v id="${t##*/}" -v pid="${p%%/*}" '/^Name:/ {n = $2; for (i = 3; i <= NF; i++) n = n "_" $i} /^voluntary_ctxt/ {v = $2} /^nonvoluntary_ctxt/ {w = $2} END {if (n != "") print id, n, pid, v + w}' "$t/status" 2> /dev/null || true
  done | sort
  awk '/^ctxt/ {c = $2} END {printf "machine ctxt %d", c}' /proc/stat
  awk '$1 == "CAL:" || $1 == "RES:" {s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; printf " %s %d", substr($1, 1, 3), s} END {print ""}' /proc/interrupts
}
send() { "$SRC" -s 20 -l 5120 -m "$1" -f a@example.org -t "$TO" "127.0.0.1:$PORT"; }
send "$WARM"; wait_delivered "$WARM"
case $MODE in
  instructions) callgrind_control -i on $PID > /dev/null ;;
  syscalls)
    # the server's calls and the acceptors' counted apart (strace -c sums whatever it traces)
    strace -f -c -o "$W/strace.txt" $(ls /proc/$PID/task | sed 's/^/-p /') 2> /dev/null & TRACER=$!
    ACC="${PIDS#"$PID"}"; TRACER2=""
    [ -n "${ACC// /}" ] && { strace -f -c -o "$W/strace-acceptors.txt" $(for p in $ACC; do ls /proc/$p/task; done | sed 's/^/-p /') 2> /dev/null & TRACER2=$!; }
    sleep 1 ;;
  cpu) read -r -a S0 < <(awk '{print $10, $14, $15}' /proc/$PID/stat) ;;
  threads) tasks > "$W/tasks0" ;;
  switches) switches > "$W/switches0" ;;
esac
send "$N"; wait_delivered $((WARM + N))
case $MODE in
  instructions)
    callgrind_control -i off $PID > /dev/null; callgrind_control -d $PID > /dev/null; sleep 1
    TOTAL=$(for f in "$W"/callgrind.out*; do callgrind_annotate "$f" 2> /dev/null | grep 'PROGRAM TOTALS' || true; done | awk '{gsub(",", "", $1); s += $1} END {print s}')
    echo "$SCEN instructions per message: $((TOTAL / N)) (N=$N after $WARM; callgrind files in $W)" ;;
  syscalls)
    kill -INT $TRACER $TRACER2; wait $TRACER $TRACER2 || true
    per() { awk '$NF == "total" {printf "%.1f", $(NF-2) / '"$N"'}' "$1"; }
    if [ -z "$TRACER2" ]; then echo "$SCEN system calls per message: $(per "$W/strace.txt") (N=$N after $WARM; by call in $W/strace.txt)"
    else echo "$SCEN system calls per message: server $(per "$W/strace.txt"), acceptors $(per "$W/strace-acceptors.txt") (N=$N after $WARM; by call in $W/strace.txt and strace-acceptors.txt)"; fi ;;
  profile)
    kill -TERM "$PID"; wait $SERVER || true; SERVER=""
    echo "$SCEN: V8 profile of the server, warm-up included (N=$N after $WARM; load $(cut -d' ' -f1 /proc/loadavg)); files in $W/prof"
    PROF=$(ls "$W/prof"/CPU.*."$PID".*.cpuprofile 2> /dev/null | head -1)
    [ -n "$PROF" ] || { echo "count-per-message: no profile of process $PID in $W/prof" >&2; exit 70; }
    SUMMARY=$(cd "$(dirname "$0")/.." && pwd)/dist/bench/profile-summary.js
    node --input-type=module -e "const m = await import('$SUMMARY'); console.log(m.formatProfile(await m.summarizeProfile('$PROF', 25)))" ;;
  threads)
    tasks > "$W/tasks1"
    TICK=$(getconf CLK_TCK)
    join "$W/tasks0" "$W/tasks1" | sort -n | awk -v n="$N" -v w="$WARM" -v tk="$TICK" -v pids=" $PIDS " -v scen="$SCEN" -v la="$(cut -d' ' -f1 /proc/loadavg)" '
      { u = ($6 - $2) * 1000 / tk / n; s = ($7 - $3) * 1000 / tk / n; r = ($8 - $4) / 1e6 / n; U += u; S += s; R += r; P[$5] += r
        line[NR] = sprintf("  thread %s%s: on a CPU %.3f (user %.3f, system %.3f)", $1, index(pids, " " $1 " ") ? ($1 == pids + 0 ? " (main)" : " (acceptor main)") : "", r, u, s) }
      END { printf "%s CPU ms per message: on a CPU %.3f (user %.3f, system %.3f) (N=%d after %d; load %s)\n", scen, R, U, S, n, w, la
            split(pids, ps, " "); if (length(ps) > 1) for (i = 1; i <= length(ps); i++) printf "  process %s%s: on a CPU %.3f\n", ps[i], i == 1 ? " (server)" : " (acceptor)", P[ps[i]]
            for (i = 1; i <= NR; i++) print line[i] }'
    sleep 1
    # which process took the connections: the mail log's "received" lines by role (warm-up included)
    if [ "${PIDS// /}" != "$PID" ]; then
      A=$(grep '"msg":"received"' "$W/serve.log" | grep -c '"role":"acceptor"' || true)
      echo "  messages received by the server: $(( $(grep -c '"msg":"received"' "$W/serve.log" || true) - A )), by its acceptors: $A (warm-up included)"
    fi ;;
  switches)
    switches > "$W/switches1"
    # "machine ctxt C RES r CAL c" (the interrupts in /proc/interrupts' order), before and after
    counter() { grep '^machine' "$1" | tr ' ' '\n' | grep -A1 -x "$2" | tail -1; }
    per() { echo "scale=2; ($(counter "$W/switches1" "$1") - $(counter "$W/switches0" "$1")) / $N" | bc | sed 's/^\./0./'; }
    echo "$SCEN per message on the machine: $(per ctxt) context switches, $(per CAL) function-call and $(per RES) rescheduling interrupts (N=$N after $WARM; load $(cut -d' ' -f1 /proc/loadavg))"
    # by program (a kworker by its name after the batch; correio's processes by role) for the
    # threads that lived through the batch; the rest of the machine's count is the threads that
    # started or ended within it: smtp-source's among them
    join <(grep -v '^machine' "$W/switches0") <(grep -v '^machine' "$W/switches1") | awk -v n="$N" -v pids=" $PIDS " -v main="$PID" -v server="${FLOOR:+the sink}" -v all="$(( $(counter "$W/switches1" ctxt) - $(counter "$W/switches0" ctxt) ))" '
      { d = $7 - $4; if (d <= 0) next
        name = $5; sub(/-.*/, "", name); tg = $6
        if (index(pids, " " tg " ")) name = (tg == main ? (server != "" ? server : "correio server") : "correio acceptor") ($1 == tg ? " (main)" : " (other threads)")
        by[name] += d; seen += d }
      END { for (k in by) printf "  %7.2f  %s\n", by[k] / n, k
            printf "  %7.2f  %s\n", (all - seen) / n, "threads started or ended within the batch (smtp-source, ...)" }' | sort -rn | head -15 ;;
  cpu)
    read -r -a S1 < <(awk '{print $10, $14, $15}' /proc/$PID/stat)
    TICK=$(getconf CLK_TCK)
    echo "$SCEN CPU ms per message: $(echo "scale=3; (${S1[1]} - ${S0[1]} + ${S1[2]} - ${S0[2]}) * 1000 / $TICK / $N" | bc) minor faults per message: $(( (S1[0] - S0[0]) / N )) (N=$N after $WARM; load $(cut -d' ' -f1 /proc/loadavg))" ;;
esac
