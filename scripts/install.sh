#!/usr/bin/env bash
# Creates .venv (Python 3.10) from requirements.lock. Does nothing when the venv
# already matches the lock file (stamp .venv/.lock-sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  if [ -n "${PYTHON310:-}" ]; then echo "$PYTHON310"; return; fi
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v python3.10; return
  fi
  for p in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}

want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.lock-sha256 2>/dev/null)" = "$want" ]; then
  exit 0
fi

if ! py=$(find_python310); then
  echo "error: Python 3.10 is required (Rasa Open Source 3.6 supports no newer Python)." >&2
  echo "       Install it, e.g. 'apt-get install python3.10 python3.10-venv' or 'pyenv install 3.10'," >&2
  echo "       or point PYTHON310 at a python3.10 binary." >&2
  exit 1
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv (fast, locked installs) ..."
  "$py" -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

echo "creating .venv with $py from requirements.lock ..."
[ -x .venv/bin/python ] || uv venv --quiet --python "$py" .venv
uv pip sync --quiet --python .venv/bin/python requirements.lock
uv pip check --python .venv/bin/python
echo "$want" > .venv/.lock-sha256
