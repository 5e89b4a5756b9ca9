#!/usr/bin/env bash
# adbd throughput: Debian's adb 29.0.6 (client + server) pushing and pulling one large file to/from our adbd
# over loopback. Files live in /dev/shm so the disk is not what is measured.
# Usage: bench/adb-daemon/run.sh [SIZE_MB=1024] [RUNS=3]
set -euo pipefail
SIZE_MB=${1:-1024}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ART=${ART:-/tmp/art-adbd-bench}
dotnet build "$ROOT/src/Adb.Daemon" -c Release -p:ArtifactsPath="$ART" -v q -nologo >/dev/null
ADBD="$ART/bin/Adb.Daemon/release/adbd"

W=$(mktemp -d /dev/shm/adbd-bench.XXXXXX)
export HOME=$W/home TMPDIR=$W/tmp ADB_EMU=0 ADB_USB=0 ADB_MDNS=0
mkdir -p "$HOME/.android" "$TMPDIR" "$W/dst"
free_port() { python3 -c 'import socket,random
for p in random.sample(range(5600,7999),2399):
    s=socket.socket()
    try: s.bind(("127.0.0.1",p)); s.close(); print(p); break
    except OSError: pass'; }
SP=$(free_port); DP=$(free_port)
adb keygen "$HOME/.android/adbkey" >/dev/null 2>&1
cp "$HOME/.android/adbkey.pub" "$W/keys"; echo >> "$W/keys"
USER_ARGS=(); [ "$(id -u)" = 0 ] && USER_ARGS=(--user root)
"$ADBD" --port "$DP" --bind 127.0.0.1 --keys "$W/keys" "${USER_ARGS[@]}" > "$W/adbd.log" 2>&1 &
ADBD_PID=$!
cleanup() { adb -P "$SP" kill-server >/dev/null 2>&1 || true; kill "$ADBD_PID" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
for _ in $(seq 1 300); do grep -q "adbd listening on port" "$W/adbd.log" && break; sleep 0.1; done
adb -P "$SP" start-server >/dev/null 2>&1
for _ in $(seq 1 100); do
  adb -P "$SP" connect "127.0.0.1:$DP" >/dev/null 2>&1 || true
  [ "$(adb -P "$SP" -s "127.0.0.1:$DP" get-state 2>/dev/null)" = device ] && break
  sleep 0.2
done

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$W/src.bin"
BYTES=$(stat -c %s "$W/src.bin")
rate() { python3 -c "print(f'{$BYTES/1e6/$1:.0f}')"; }
echo "file: $SIZE_MB MiB ($BYTES bytes), runs: $RUNS, adbd $(basename "$ADBD") on 127.0.0.1:$DP"
for i in $(seq 1 "$RUNS"); do
  rm -f "$W/dst/f.bin" "$W/back.bin"
  t0=$(date +%s.%N); adb -P "$SP" push "$W/src.bin" "$W/dst/f.bin" >/dev/null; t1=$(date +%s.%N)
  adb -P "$SP" pull "$W/dst/f.bin" "$W/back.bin" >/dev/null; t2=$(date +%s.%N)
  cmp -s "$W/src.bin" "$W/back.bin" || { echo "MISMATCH"; exit 1; }
  p=$(python3 -c "print($t1-$t0)"); q=$(python3 -c "print($t2-$t1)")
  echo "run $i: push $(rate "$p") MB/s ($p s), pull $(rate "$q") MB/s ($q s)"
done
