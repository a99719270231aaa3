#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh Debian machine:
# installs what the tests need (npm packages; Debian packages when missing), builds,
# lints the import direction, then runs the unit tests, the vectors, the consensus
# simulation, the integration and the fault tests. Every server a test
# needs (gateways, a 3-server NATS cluster, Prosody) is started by that test on loopback
# and stopped after it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
# the broker itself: bench/compare.ts and its smoke (test/integration/bench/compare.test.ts)
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v prosody >/dev/null || need+=(prosody)
command -v openssl >/dev/null || need+=(openssl)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
# deploy/ checks: promtool and prometheus (prometheus), docker-compose config (no engine
# needed), systemd-analyze verify of the unit (systemd).
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need+=(prometheus)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v systemd-analyze >/dev/null || need+=(systemd)
# the portal's browser tests (test/integration/portal/) drive Debian's Chromium with playwright-core
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Wait for another apt or dpkg run to finish rather than fail on its lock (10 minutes at most).
  lock=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${lock[@]}" update -qq
  # no Recommends: docker-compose would pull in a Docker engine that nothing here uses
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts Prosody as a service on install where it can; our tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prosody 2>/dev/null; then
  echo "note: a system Prosody is running; tests use their own instance on another port"
fi

npm ci --no-audit --no-fund
npm run build
npm run lint
node -e "import('classic-level').then(() => console.log('classic-level loads'))"
npm run test:unit
npm run test:vectors

# Two lanes at once: the simulation then the fault tests beside the integration tests, each
# lane one file at a time. The suite mostly waits (on timers, peers, a validator kept down
# two minutes): run one after the other, the tests kept 2 cores busy about a third of the
# time (user + system CPU over wall time) and took 34-36 minutes. The second
# lane's output is printed when both are done; the first failure of either fails the run.
lane_log="$(mktemp -t meterledger-lane.XXXXXX)"
# its own process group (setsid), so that an interrupted run stops the lane's servers too
setsid bash -c 'npm run test:sim && npm run test:faults' >"$lane_log" 2>&1 &
lane=$!
trap 'kill -- -"$lane" 2>/dev/null || true; rm -f "$lane_log"; exit 130' INT TERM
echo "simulation and fault tests running beside the integration tests (output follows them)"
rc=0
npm run test:integration || rc=$?
lane_rc=0
wait "$lane" || lane_rc=$?
trap - INT TERM
echo
echo "==== simulation and fault tests (ran beside the integration tests) ===="
cat "$lane_log"
rm -f "$lane_log"
[ "$rc" = 0 ] || { echo "integration tests failed (exit $rc)"; exit "$rc"; }
[ "$lane_rc" = 0 ] || { echo "simulation or fault tests failed (exit $lane_rc)"; exit "$lane_rc"; }
