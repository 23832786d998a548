#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon serves with one thread by default, and with libfuse's
# multithreaded loop under -o mt; -s with -o mt is refused.  Both serve
# the same bytes under concurrent readers.  -o cpus=LIST confines every
# daemon thread to those CPUs; a bad list is refused before mounting.
. "$(dirname "$0")/lib.sh"
need_fuse
mkdir -p "$WORK/src/d"
for i in $(seq 16); do
	head -c $((i * 40000)) /dev/urandom >"$WORK/src/d/f$i"
done
gen_image "$WORK/src" "$WORK/img"

# serve NAME OPTIONS...: a foreground daemon on $WORK/NAME.
serve() {
	local name=$1
	shift
	serve_fg "$WORK/img" "$WORK/$name" "$WORK/$name.log" "$@"
}
# readers NAME: 16 readers at once compare every file with its source.
readers() {
	local i p=()
	for i in $(seq 16); do
		cmp "$WORK/src/d/f$i" "$WORK/$1/d/f$i" & p+=($!)
	done
	for i in "${p[@]}"; do
		wait "$i" || fail "$1: a concurrent read returned wrong bytes"
	done
}
threads() { ls "/proc/$1/task" | wc -l; }

serve one
readers one
n=$(threads "$DAEMON_PID")
[ "$n" = 1 ] || fail "the default daemon runs $n threads, not one"
fusermount3 -u "$WORK/one"
wait "$DAEMON_PID" || fail "default daemon exit status $?"

serve mt -o mt
readers mt
n=$(threads "$DAEMON_PID")
[ "$n" -ge 2 ] || fail "-o mt runs $n thread(s): not libfuse's multithreaded loop"
fusermount3 -u "$WORK/mt"
wait "$DAEMON_PID" || fail "-o mt daemon exit status $?"

mkdir -p "$WORK/both"
rc=0
"$XIPFS" -s -o mt "$WORK/img" "$WORK/both" 2>"$WORK/both.log" || rc=$?
[ "$rc" = 2 ] || fail "-s -o mt: exit status $rc, expected 2"
grep -q -- '-o mt' "$WORK/both.log" || fail "-s -o mt: no message naming -o mt: $(cat "$WORK/both.log")"
! mountpoint -q "$WORK/both" || fail "-s -o mt mounted"
"$XIPFS" --help | grep -q -- '-o mt' || fail "--help does not describe -o mt"

# -o cpus: the last CPU this test may use, so that the set differs from the
# inherited one wherever there are two CPUs; every thread of an -o mt
# daemon (libfuse's workers start after the option took effect) has it.
cpu=$(taskset -c -p $$ | sed 's/.*: //; s/.*[,-]//')
serve cpus -o "mt,cpus=$cpu"
readers cpus
for t in /proc/"$DAEMON_PID"/task/*; do
	got=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status")
	[ "$got" = "$cpu" ] || fail "-o cpus=$cpu: thread ${t##*/} may run on CPUs $got"
done
fusermount3 -u "$WORK/cpus"
wait "$DAEMON_PID" || fail "-o cpus daemon exit status $?"
# refused: bad syntax (status 2, as any bad option) and no such CPU (1)
for bad in "x:2" "1-:2" "2-1:2" "4096:2" "1023:1"; do
	rc=0
	"$XIPFS" -o "cpus=${bad%:*}" "$WORK/img" "$WORK/both" 2>"$WORK/both.log" || rc=$?
	[ "$rc" = "${bad#*:}" ] || fail "-o cpus=${bad%:*}: exit status $rc, expected ${bad#*:}"
	grep -q -- "-o cpus=${bad%:*}" "$WORK/both.log" ||
		fail "-o cpus=${bad%:*}: no message naming the option: $(cat "$WORK/both.log")"
	! mountpoint -q "$WORK/both" || fail "-o cpus=${bad%:*} mounted"
done
"$XIPFS" --help | grep -q -- '-o cpus' || fail "--help does not describe -o cpus"
