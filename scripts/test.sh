#!/usr/bin/env bash
# Runs every test of the solution on a fresh machine: installs the real peers the tests talk to
# (redis-server/redis-cli/redis-benchmark 7.0.15, Debian's adb 29.0.6) when missing, restores NuGet
# packages, builds in Release and runs all test projects. Prints "N passed, N failed, N skipped" last.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v adb >/dev/null 2>&1 || need+=(adb)
if ((${#need[@]})); then
  echo "Installing ${need[*]} ..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Test projects run one after another (-m:1): each starts real servers, and 2 cores are shared.
# The Debian package may start a system redis on 6379; tests pick their own ports, so it is harmless.

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Systems.slnx -c Release -nologo -v q

log=$(mktemp)
set +e
dotnet test Systems.slnx -c Release --no-build -nologo -m:1 --logger "console;verbosity=normal" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# kv-server's other I/O path (a task per client on the .NET socket engine instead of its own epoll event loop:
# KV_EPOLL=0, and every platform but Linux x64): the tests where the two paths differ most (replication stream
# flushing, blocked clients woken by other clients, propagation).
KV_EPOLL=0 dotnet test tests/Kv.Tests -c Release --no-build -nologo --logger "console;verbosity=normal" \
  --filter "FullyQualifiedName~Replication|FullyQualifiedName~Blocking|FullyQualifiedName~Propagation" 2>&1 | tee -a "$log"
rc2=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && rc=$rc2
set -e
count() { { grep -oE "^ +$1: +[0-9]+" "$log" || true; } | awk '{s+=$2} END {print s+0}'; }
passed=$(count Passed)
failed=$(count Failed)
skipped=$(count Skipped)
rm -f "$log"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$rc"
