#!/usr/bin/env bash
# The Debian package, built and installed for real:
#
#   bash test/debian/run.sh
#
# 1. Builds postgresql-15-baseledger with dpkg-buildpackage -us -uc -b
#    (debhelper's pgxs_loop sequence, pg_buildext) from a copy of the
#    sources in a temporary directory, so the work tree is not touched.
# 2. Checks what the .deb holds: the module, the control file and every
#    install and update script of the extension.
# 3. In a private mount namespace, where /usr/lib/postgresql,
#    /usr/share/postgresql, /usr/share/doc and dpkg's database are
#    copy-on-write overlays (so the machine's own installation is left as it
#    was): removes the extension's files installed by make install, installs
#    the .deb with dpkg -i, checks that dpkg owns and verifies every file,
#    runs CREATE EXTENSION baseledger and the regression, isolation and pgTAP
#    suites (debian/tests/installcheck) against the installed files, then
#    dpkg -r and checks that the extension is gone.
#
# Needs root (or sudo) for the mount namespace. Ends with "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
. test/lib/checks.sh
# The version the package carries: baseledger.control's default_version.
version=$(sed -nE "s/^default_version = '([^']+)'/\1/p" baseledger.control)
pkg=postgresql-15-baseledger
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

# ---------------------------------------------------------------- inside the namespace
if [ "${1:-}" = --inside ]; then
  deb=$2
  libdir=$("$PG_CONFIG" --pkglibdir)
  sharedir=$("$PG_CONFIG" --sharedir)
  # Only the package may provide the extension here.
  rm -rf "$libdir/baseledger.so" "$libdir/bitcode/baseledger" "$libdir/bitcode/baseledger.index.bc" \
    "$sharedir"/extension/baseledger.control "$sharedir"/extension/baseledger--*.sql
  expect_eq "without the package, the extension is not available" "0" \
    "$(bash scripts/with-cluster.sh psql -X -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'baseledger'" 2>/dev/null |
       grep -vE '^(Creating|Dropping) ' | tail -1)"

  expect_ok "dpkg -i $(basename "$deb")" env DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
  expect_eq "dpkg reports the package installed" "install ok installed" \
    "$(dpkg-query -W -f='${Status}' "$pkg" 2>&1)"
  expect_eq "dpkg owns the module and the control file" "$pkg|$pkg" \
    "$(dpkg -S "$libdir/baseledger.so" "$sharedir/extension/baseledger.control" 2>&1 | cut -d: -f1 | paste -sd'|')"
  expect_eq "dpkg --verify finds every installed file intact" "" "$(dpkg --verify "$pkg" 2>&1)"
  expect_eq "the installed scripts are the sources'" "" \
    "$(for f in sql/baseledger--*.sql baseledger.control; do
         cmp -s "$f" "$sharedir/extension/$(basename "$f")" || echo "differs: $f"
       done)"

  # With the files above gone, the module that answers is the package's.
  expect_eq "CREATE EXTENSION baseledger from the package, and a call into its module" "$version|deb-agent" \
    "$(bash scripts/with-cluster.sh psql -X -At -v ON_ERROR_STOP=1 \
         -c "SET client_min_messages = warning" -c "CREATE EXTENSION baseledger" \
         -c "SELECT extversion FROM pg_extension WHERE extname = 'baseledger'" \
         -c "SELECT wallet_id FROM ledger.ledger_create_wallet('deb-agent')" 2>&1 |
       grep -vE '^(Creating|Dropping) ' | tail -2 | paste -sd'|')"

  # The database suites against the installed files: debian/tests/installcheck.
  log=$(mktemp)
  bash debian/tests/installcheck 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
  rm -f "$log"
  if [ -n "$counts" ]; then
    read -r p f <<<"$counts"
    passed=$((passed + p))
    failed=$((failed + f))
  fi
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    not_ok "debian/tests/installcheck (exit $rc)"
  fi

  expect_ok "dpkg -r $pkg" dpkg -r "$pkg"
  expect_eq "after dpkg -r no file of the extension is left" "" \
    "$(ls "$libdir/baseledger.so" "$sharedir/extension/baseledger.control" "$sharedir"/extension/baseledger--* 2>/dev/null)"
  summary
  exit $?
fi

# ---------------------------------------------------------------- build
bash scripts/install-packaging-deps.sh >/dev/null || not_ok "scripts/install-packaging-deps.sh"

work=$(mktemp -d /tmp/baseledger-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/baseledger-$version
mkdir -p "$src"
# The sources as git sees them (tracked files and new ones not ignored), or
# the whole tree outside a git checkout; never build outputs.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c '[ -e "{}" ] && echo "{}"' |
    tar -cf - -T - | tar -xf - -C "$src"
else
  tar -cf - --exclude=build --exclude='*.o' --exclude='*.so' --exclude='*.bc' . | tar -xf - -C "$src"
fi

log=$work/build.log
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
  ok "dpkg-buildpackage -us -uc -b"
else
  not_ok "dpkg-buildpackage -us -uc -b" "$(tail -40 "$log")"
  summary
  exit 1
fi
grep -E 'pg_buildext|dh_auto_install|dpkg-deb: building' "$log" | sed 's/^/# /'

deb=$(ls "$work"/${pkg}_*.deb 2>/dev/null | head -1)
expect_eq "one .deb was built" "${pkg}_${version}_$(dpkg --print-architecture).deb" "$(basename "$deb")"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/lib/postgresql/15/lib/baseledger.so /usr/share/postgresql/15/extension/baseledger.control \
  $(ls sql/baseledger--*.sql | sed 's|^sql/|/usr/share/postgresql/15/extension/|'); do
  if grep -qxF "$f" <<<"$contents"; then ok "the package holds $f"; else not_ok "the package holds $f"; fi
done
expect_eq "the package depends on PostgreSQL 15 and recommends pg_cron" "postgresql-15|postgresql-15-cron" \
  "$(dpkg-deb -f "$deb" Depends | grep -oE '(^|, )postgresql-15( |,|$)' | tr -d ' ,')|$(dpkg-deb -f "$deb" Recommends)"

# ---------------------------------------------------------------- install and test
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
overlay=$work/overlay
mkdir -p "$overlay"
log=$work/inside.log
# The overlays and the tests run in a new mount namespace; nothing leaves it.
"${sudo[@]}" unshare -m bash -c '
  set -e
  overlay=$1
  shift
  mount --make-rprivate /
  i=0
  for d in /usr/lib/postgresql /usr/share/postgresql /usr/share/doc /var/lib/dpkg; do
    i=$((i + 1))
    mkdir -p "$overlay/upper$i" "$overlay/work$i"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$overlay/upper$i,workdir=$overlay/work$i" "$d"
  done
  exec "$@"' bash "$overlay" bash "$root/test/debian/run.sh" --inside "$deb" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
if [ -n "$counts" ]; then
  read -r p f <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
fi
if [ "$rc" -ne 0 ] && { [ -z "$counts" ] || [ "${f:-0}" -eq 0 ]; }; then
  not_ok "the package was installed and tested in a private mount namespace (exit $rc)"
fi
expect_eq "the machine's own installation is untouched" "install ok not-installed" \
  "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || echo "install ok not-installed")"
summary
