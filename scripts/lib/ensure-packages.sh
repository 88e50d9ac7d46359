# Sourced by the install scripts: ensure_packages NAME PACKAGE...
# Installs the Debian packages that are missing, and touches apt only then,
# so a warm machine goes on at once and a fresh one (or CI) gets everything.
# Runs apt as root directly, or through sudo from a developer's account.
ensure_packages() {
  local name=$1 pkg status
  shift
  local missing=()
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$name: all $# packages already installed"
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "$name: installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}
