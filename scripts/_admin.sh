# Shared by the query scripts: run the admin CLI (tools/admin) against the
# local target or AWS. AWS_ENDPOINT_URL, when set, is the endpoint (the local
# target: http://localhost:4566); TARGET=aws uses the standard credential
# chain instead; otherwise the local target on localhost:${LOCAL_PORT:-4566}.
root="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "error: $python not found: run 'make install' first" >&2
  exit 1
fi
admin() {
  local target=(--target "${TARGET:-local}")
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    target+=(--endpoint-url "$AWS_ENDPOINT_URL")
  fi
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m tools.admin "${target[@]}" "$@"
}
