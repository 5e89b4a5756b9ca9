#!/usr/bin/env bash
# Per-command fixed cost and syscalls of a 1 GiB pull: Debian's adb 29.0.6 client+server vs ours, both to our adbd.
#   bench/adb-host/per-command.sh [BIN] [MORE_ADB...]
# BIN: folder with our adb and adbd (default artifacts/bin/adb-host/release, from `dotnet build bench/adb-host -c Release`);
# MORE_ADB: other builds of our adb to time as clients against our server (e.g. a JIT build).
# Prints ms per command (20 runs each of get-state, shell true, pull of a small file) and, when strace is
# installed, `strace -c` of one 1 GiB pull for each client (-f) and server (-p). Everything started is killed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-artifacts/bin/adb-host/release}"); shift || true
EXTRA=("$@")
W=$(mktemp -d /dev/shm/adb-per-command.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$W/home" "$W/tmp" "$W/host"
export HOME=$W/home TMPDIR=$W/tmp ADB_EMU=0 ADB_MDNS=0
unset ANDROID_SERIAL ANDROID_ADB_SERVER_PORT
"$BIN/adbd" keys list >/dev/null 2>&1 || true
# Debian's client creates ~/.android/adbkey on its first server start; authorize that key.
P0=$(free_port); /usr/bin/adb -P "$P0" start-server >/dev/null 2>&1; /usr/bin/adb -P "$P0" kill-server >/dev/null 2>&1 || true
cp "$HOME/.android/adbkey.pub" "$W/keys"
PA=$(free_port); PD=$(free_port); PO=$(free_port)
"$BIN/adbd" --port "$PA" --keys "$W/keys" --user "$(id -un)" >"$W/adbd.log" 2>&1 & PIDS+=($!); APID=$!
/usr/bin/adb -L "tcp:$PD" server nodaemon >"$W/dsrv.log" 2>&1 & PIDS+=($!); DPID=$!
"$BIN/adb" -P "$PO" server nodaemon >"$W/osrv.log" 2>&1 & PIDS+=($!); OPID=$!
sleep 1
S=127.0.0.1:$PA
for p in "$PD" "$PO"; do /usr/bin/adb -P "$p" connect "$S" >/dev/null; /usr/bin/adb -P "$p" -s "$S" wait-for-device; done
echo small > "$W/small.txt"
clients=("debian|/usr/bin/adb|$PD" "ours|$BIN/adb|$PO")
for x in "${EXTRA[@]}"; do clients+=("$x|$x|$PO"); done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for cmd in "get-state" "shell true" "pull $W/small.txt $W/host/s.txt"; do
  for c in "${clients[@]}"; do
    IFS='|' read -r name exe port <<<"$c"
    t0=$(date +%s%N)
    for _ in $(seq 20); do "$exe" -P "$port" -s "$S" $cmd >/dev/null 2>&1; done
    t1=$(date +%s%N)
    printf '%-12s %-40s %4d ms per command\n' "${cmd%% *}" "$name" $(((t1 - t0) / 20000000))
  done
done
command -v strace >/dev/null || exit 0
head -c 1073741824 /dev/urandom >"$W/big.bin"
for c in "debian|/usr/bin/adb|$PD|$DPID" "ours|$BIN/adb|$PO|$OPID"; do
  IFS='|' read -r name exe port spid <<<"$c"
  strace -c -f -p "$spid" -o "$W/strace-server.txt" & sp=$!
  sleep 0.5
  strace -c -f -o "$W/strace-client.txt" "$exe" -P "$port" -s "$S" pull "$W/big.bin" "$W/host/back.bin" >/dev/null
  sleep 0.3; kill -INT "$sp"; wait "$sp" 2>/dev/null || true
  rm -f "$W/host/back.bin"
  echo "== $name client, 1 GiB pull (strace -c -f)"; head -8 "$W/strace-client.txt"
  echo "== $name server, same pull (strace -c -f -p)"; head -10 "$W/strace-server.txt"
done
