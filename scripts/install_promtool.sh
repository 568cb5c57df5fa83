#!/usr/bin/env bash
# promtool, Prometheus's own rule checker, for tests/test_monitoring_rules.py (`promtool
# check rules` and `promtool test rules` on deploy/monitoring/). Taken from Debian's
# `prometheus` package with `apt-get download` and `dpkg -x`: nothing is installed
# system-wide and no Prometheus server is started; only the promtool binary is copied into
# the virtualenv's bin (or the directory given). Idempotent and quick when it is there.
# When the package cannot be had it says so and exits 0: the promtool tests then skip,
# unless CI or NEWSTAG_REQUIRE_E2E is set, when they fail instead.
set -euo pipefail

target="$(mkdir -p "${1:-.venv/bin}" && cd "${1:-.venv/bin}" && pwd)"
[ -x "$target/promtool" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download prometheus >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true  # the package lists may be missing on a new machine
  apt-get download prometheus >/dev/null 2>&1 || true
fi
deb="$(find . -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)"
if [ -z "$deb" ]; then
  echo "install_promtool: Debian's prometheus package could not be downloaded; the promtool tests will skip" >&2
  exit 0
fi
dpkg -x "$deb" extracted
install -m 0755 extracted/usr/bin/promtool "$target/promtool"
echo "install_promtool: $("$target/promtool" --version 2>&1 | head -n 1) in $target" >&2
