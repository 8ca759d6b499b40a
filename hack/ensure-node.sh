# Sourced, not run: puts Node >= 22 on PATH. When the machine's node is older, installs Node 24 LTS from the npm
# registry (package node@24) into the user's cache once and uses it from then on.
#   . hack/ensure-node.sh
_acr_node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_acr_node_major)" -lt 22 ]; then
  _acr_node_dir=${XDG_CACHE_HOME:-$HOME/.cache}/acr-access-operator/node24
  if [ ! -x "$_acr_node_dir/node_modules/node/bin/node" ]; then
    echo "ensure-node: node $(node --version 2>/dev/null || echo none) is too old; installing node@24 from the npm registry" >&2
    mkdir -p "$_acr_node_dir"
    npm install --prefix "$_acr_node_dir" --no-save --no-audit --no-fund --loglevel=error node@24 >&2 || return 1
  fi
  export PATH="$_acr_node_dir/node_modules/node/bin:$PATH"
  unset _acr_node_dir
fi
if [ "$(_acr_node_major)" -lt 22 ]; then echo "ensure-node: could not get Node >= 22" >&2; unset -f _acr_node_major; return 1; fi
unset -f _acr_node_major
