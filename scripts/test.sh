#!/usr/bin/env bash
# Install what the tests need, then run them: `bash scripts/test.sh [pytest options]`.
#
# - the project with its test extras (pytest, Playwright's Python driver, ruff);
# - Debian's Chromium for the browser tests (Playwright's own browser download is not used), when missing and
#   this shell may install system packages; otherwise those tests skip and say why;
# - Debian's PostgreSQL, when missing and this shell may install system packages: a throw-away server on 127.0.0.1
#   (scripts/postgres.sh) for the tests that run on both databases, unless XRAY_TEST_POSTGRES_URL names one;
# - the viewer's npm packages (viewer/package-lock.json).
# Threads are limited: two cores are shared by pytest, the app under test and the browser.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[test]"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -n "${XRAY_TEST_POSTGRES_URL:-}" ] || ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Note: ${missing[*]} missing; browser or PostgreSQL tests will skip (as root: apt-get install -y ${missing[*]})." >&2
  fi
fi
if [ -z "${XRAY_TEST_POSTGRES_URL:-}" ] && ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  XRAY_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"
  export XRAY_TEST_POSTGRES_URL
  trap 'bash scripts/postgres.sh stop' EXIT
fi

# The viewer's JavaScript tools, pinned by viewer/package-lock.json: three.js and esbuild (the bundle is rebuilt and
# compared), the Khronos glTF validator, Meta's WebXR emulator (iwer) for the browser tests.
if command -v npm >/dev/null; then
  npm ci --prefix viewer --no-audit --no-fund --loglevel=error
else
  echo "Note: npm is missing; the glTF validation, bundle and VR emulation tests will skip (install Node.js 18+)." >&2
fi

export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Two workers, one a core: the tests of the app with accounts stay together on one of them; each worker has its own
# single-user app server (tests/browser/conftest.py).
python -m pytest -n 2 --dist loadgroup "$@"
