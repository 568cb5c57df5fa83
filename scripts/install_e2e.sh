#!/usr/bin/env bash
# System packages the browser and PostgreSQL tests need, from Debian: headless Chromium
# (driven by Playwright through executable_path, never a downloaded browser build), a
# font so screenshots show text, and a PostgreSQL server the store test starts itself.
# Idempotent and quick when everything is there (dpkg -s only). `make test` runs it.
# Without root it only says what is missing: the tests then skip, unless CI or
# NEWSTAG_REQUIRE_E2E is set, when they fail instead.
set -euo pipefail

packages=(chromium fonts-liberation postgresql)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install_e2e: missing ${missing[*]}; as root: apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "install_e2e: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
