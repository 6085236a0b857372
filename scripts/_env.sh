# Sourced by scripts/studio and scripts/test: create .venv at the repo root if missing and install what
# requirements*.txt and pyproject.toml ask for, again only when those files change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
ensure_installed() {  # ensure_installed STAMP_NAME REQUIREMENTS_FILE...
  local stamp=".venv/.installed-$1"; shift
  local want
  want="$(cat "$@" pyproject.toml | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    if [ -f "$stamp" ]; then
      echo "the requirements changed: updating .venv ($*)…" >&2
    else
      echo "first start: installing $* into .venv (torch CPU, transformers, gradio…; about 3-5 minutes on a" \
           "fresh machine, skipped on later starts)…" >&2
    fi
    # -qq: errors only (pip's warnings about ignored locations are noise here, dozens of lines)
    .venv/bin/python -m pip install -qq --upgrade pip
    local args=()
    for file in "$@"; do args+=(-r "$file"); done
    .venv/bin/python -m pip install -qq "${args[@]}"
    .venv/bin/python -m pip install -qq --no-deps -e .
    echo "$want" > "$stamp"
    echo "installed." >&2
  fi
}
export HF_HUB_DISABLE_TELEMETRY=1
export GRADIO_ANALYTICS_ENABLED=False
