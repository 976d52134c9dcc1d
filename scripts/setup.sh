#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: a project venv with dli-magic and its test extras,
# and (with --browser) Debian's chromium for the real-browser test. Sourced by the other scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

ensure_venv() {
  if [[ ! -x "$PY" ]]; then
    echo "setup: creating $VENV" >&2
    python3 -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp="$VENV/.dli-magic-install-stamp" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: installing dli-magic[test] into $VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    echo "$want" >"$stamp"
  fi
}

ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then return 0; fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium (for the real-browser test)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium with sudo (for the real-browser test)" >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing and cannot be installed here; the browser test will fail" >&2
  fi
}
