#!/usr/bin/env bash
# CI stage: the Docker image, without a Docker engine. No engine runs on our
# machines, so this stage does on the machine itself what the image's build
# and first start do, reading them from docker/Dockerfile and
# docker/compose.yaml rather than repeating them:
#
# 1. docker/Dockerfile: the base is the official Debian-based PostgreSQL 15
#    image; every file it copies exists; every RUN line is executed here, from
#    the repository root (the image's WORKDIR copy of it), so the image has no
#    build step that CI does not run.
# 2. docker/compose.yaml: builds that Dockerfile, keeps the data in a named
#    volume, and its health check is the image's.
# 3. A throwaway server started with the -c settings of the Dockerfile's CMD
#    (pg_cron preloaded) and its POSTGRES_DB; the init scripts the image copies
#    into /docker-entrypoint-initdb.d run as the entrypoint runs them; then the
#    health check passes, a ledger works there, and pg_cron's job refunds a
#    lapsed hold by itself within a minute; without the job the health check
#    fails.
#
# Ends with "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
. test/lib/checks.sh
dockerfile=docker/Dockerfile
compose=docker/compose.yaml

# ---------------------------------------------------------------- inside the server
if [ "${1:-}" = --inside ]; then
  # Set up by the outer part: POSTGRES_DB, HEALTHCHECK_CMD, INIT_DIR.
  export POSTGRES_USER=$PGUSER
  # The entrypoint runs *.sh (executed when executable, else sourced) and
  # *.sql (with psql) in sorted order against POSTGRES_DB.
  createdb "$POSTGRES_DB"
  for f in $(find "$INIT_DIR" -maxdepth 1 -type f | LC_ALL=C sort); do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          expect_ok "init script $(basename "$f") (executed)" "$f"
        else
          expect_ok "init script $(basename "$f") (sourced)" bash -c ". '$f'"
        fi
        ;;
      *.sql)
        expect_ok "init script $(basename "$f")" psql -X -v ON_ERROR_STOP=1 -d "$POSTGRES_DB" -f "$f"
        ;;
      *) echo "# ignored: $f" ;;
    esac
  done

  health() { bash -c "$HEALTHCHECK_CMD" 2>&1; }
  out=$(health)
  rc=$?
  if [ "$rc" -eq 0 ] && [[ $out == healthy* ]]; then
    ok "health check: $out"
  else
    not_ok "health check passes after the init scripts" "$out"
  fi

  db=$POSTGRES_DB
  cron_db=$(q -d "$db" -c "SHOW cron.database_name")
  expect_eq "pg_cron is preloaded" "t" \
    "$(q -d "$db" -c "SELECT 'pg_cron' = ANY (string_to_array(current_setting('shared_preload_libraries'), ','))")"
  expect_eq "cron.database_name is POSTGRES_DB ($db)" "$db" "$cron_db"
  expect_eq "baseledger and pg_cron are installed in $db" "baseledger|pg_cron" \
    "$(q -d "$db" -c "SELECT string_agg(extname, '|' ORDER BY extname) FROM pg_extension WHERE extname IN ('baseledger', 'pg_cron')")"
  expect_eq "the expiry job runs every minute" "* * * * *|SELECT ledger.ledger_expire()" \
    "$(q -d "$cron_db" -c "SELECT schedule, command FROM cron.job WHERE jobname = 'baseledger-expire'")"

  # A ledger in the container's database, with a hold that lapsed long ago:
  # its wallet's events happen an hour back on the ledger's clock.
  expect_ok "a budget is reserved and settled in $db" q -d "$db" \
    -c "SELECT 1 FROM ledger.ledger_create_wallet('docker-agent')" \
    -c "SELECT 1 FROM ledger.ledger_credit('docker-agent', 1000, 'fund')" \
    -c "SELECT 1 FROM ledger.ledger_settle('docker-agent',
          (SELECT reservation_id FROM ledger.ledger_reserve('docker-agent', 300, '1 minute', 'call-1')),
          120, 'call-1/settle')"
  expect_ok "a hold lapses unseen" q -d "$db" \
    -c "SELECT 1 FROM ledger.ledger_create_wallet('docker-crashed')" \
    -c "SET baseledger.clock_offset = '-1h'" \
    -c "SELECT 1 FROM ledger.ledger_credit('docker-crashed', 50, 'fund')" \
    -c "SELECT 1 FROM ledger.ledger_reserve('docker-crashed', 40, '1 minute', 'call-1')"
  expect_eq "the lapsed hold waits for the sweep" "1" \
    "$(q -d "$db" -c "SELECT count(*) FROM ledger.lapsed_reservations")"
  # pg_cron starts jobs on the minute: wait up to 75 seconds for the refund.
  refunded=
  for _ in $(seq 1 75); do
    refunded=$(q -d "$db" -c "SELECT count(*) FROM ledger.events WHERE wallet_id = 'docker-crashed' AND kind = 'expire'")
    [ "$refunded" = 1 ] && break
    sleep 1
  done
  expect_eq "pg_cron's job refunded the lapsed hold by itself" "1" "$refunded"
  expect_eq "the job's run succeeded" "succeeded" \
    "$(q -d "$cron_db" -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                          WHERE j.jobname = 'baseledger-expire' ORDER BY d.runid DESC LIMIT 1")"
  expect_eq "balances after the sweep" "docker-agent|880|880|docker-crashed|50|50" \
    "$(q -d "$db" -c "SELECT wallet_id, balance, available FROM ledger.wallet_tree WHERE is_wallet ORDER BY wallet_id" | paste -sd'|')"
  expect_eq "ledger_verify() finds nothing" "" \
    "$(q -d "$db" -c "SELECT wallet_id || ': ' || problem FROM ledger.ledger_verify()")"

  # The health check notices a missing expiry job.
  q -d "$cron_db" -c "SELECT ledger.ledger_unschedule_expiry()" >/dev/null
  out=$(health)
  rc=$?
  if [ "$rc" -ne 0 ] && [[ $out == unhealthy* ]]; then
    ok "health check fails without the expiry job: $out"
  else
    not_ok "health check fails without the expiry job" "exit $rc: $out"
  fi
  q -d "$cron_db" -c "SELECT ledger.ledger_schedule_expiry()" >/dev/null
  summary
  exit $?
fi

# ---------------------------------------------------------------- the Dockerfile
# PyYAML reads compose.yaml.
bash scripts/install-packaging-deps.sh >/dev/null || not_ok "scripts/install-packaging-deps.sh"

# Instructions with their continuation lines joined.
instructions=$(sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' "$dockerfile" | grep -Ev '^[[:space:]]*(#|$)')
instr() { grep -E "^$1 " <<<"$instructions" | sed -E "s/^$1 +//"; }

from=$(instr FROM)
if [[ $from =~ ^postgres:15(\.[0-9]+)?-bookworm$ ]]; then
  ok "the image is built on the official Debian-based PostgreSQL 15 image ($from)"
else
  not_ok "the image is built on the official Debian-based PostgreSQL 15 image" "FROM $from"
fi
workdir=$(instr WORKDIR | tail -1)
expect_eq "the sources are copied whole into the WORKDIR" "$workdir|. ." \
  "$workdir|$(instr COPY | head -1)"
while read -r src _; do
  [ -n "$src" ] || continue
  if [ -e "$root/$src" ]; then ok "COPY source $src exists"; else not_ok "COPY source $src exists"; fi
done < <(instr COPY)

# Every RUN line, from the repository root (what the image has in WORKDIR).
mapfile -t runs < <(instr RUN)
if [ ${#runs[@]} -eq 0 ]; then
  not_ok "the Dockerfile has a RUN line"
fi
for cmd in "${runs[@]}"; do
  echo "# RUN $cmd"
  if [[ $cmd == \[* ]]; then
    mapfile -t argv < <(/usr/bin/python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$cmd")
    expect_ok "RUN ${argv[*]}" bash -c 'cd "$0" && exec "$@"' "$root" "${argv[@]}"
  else
    expect_ok "RUN $cmd" bash -c "cd '$root' && $cmd"
  fi
done

# CMD ["postgres", "-c", "name=value", ...]: the server's settings.
cmd_json=$(instr CMD | tail -1)
mapfile -t settings < <(/usr/bin/python3 -c '
import json, sys
argv = json.loads(sys.argv[1])
assert argv[0] == "postgres", argv
for flag, value in zip(argv[1::2], argv[2::2]):
    assert flag == "-c", argv
    print(value)' "$cmd_json")
expect_eq "the CMD preloads pg_cron" "shared_preload_libraries=pg_cron" \
  "$(printf '%s\n' "${settings[@]}" | grep '^shared_preload_libraries=')"
postgres_db=$(instr ENV | sed -nE 's/^POSTGRES_DB[= ]+//p' | tail -1)
init_dir=$(instr COPY | awk '$2 == "/docker-entrypoint-initdb.d/" {print $1}')
health_json=$(instr HEALTHCHECK | sed -E 's/.*CMD +//')
health_cmd=$(/usr/bin/python3 -c '
import json, shlex, sys
print(" ".join(shlex.quote(a.replace(sys.argv[2] + "/", "")) for a in json.loads(sys.argv[1])))' \
  "$health_json" "$workdir")
echo "# settings: ${settings[*]}; POSTGRES_DB=$postgres_db; init scripts: $init_dir; health: $health_cmd"

# ---------------------------------------------------------------- compose.yaml
compose_check=$(/usr/bin/python3 - "$compose" "$health_json" "$postgres_db" <<'EOF'
import json, os, sys
import yaml
path, health, postgres_db = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
doc = yaml.safe_load(open(path))
problems = []
services = doc.get("services", {})
if len(services) != 1:
    problems.append("expected one service, got %s" % list(services))
for name, svc in services.items():
    build = svc.get("build", {})
    context = os.path.normpath(os.path.join(os.path.dirname(path), build.get("context", ".")))
    dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
    if os.path.realpath(dockerfile) != os.path.realpath("docker/Dockerfile"):
        problems.append("builds %s, not docker/Dockerfile" % dockerfile)
    mounts = [v.split(":") for v in svc.get("volumes", [])]
    data = [m for m in mounts if len(m) >= 2 and m[1] == "/var/lib/postgresql/data"]
    if not data or data[0][0] not in (doc.get("volumes") or {}):
        problems.append("the data directory is not on a named volume: %s" % mounts)
    hc = svc.get("healthcheck", {})
    if hc.get("test") != ["CMD"] + health:
        problems.append("health check %s differs from the image's %s" % (hc.get("test"), health))
    env = svc.get("environment", {})
    if "POSTGRES_PASSWORD" not in env:
        problems.append("no POSTGRES_PASSWORD")
    if str(env.get("POSTGRES_DB", postgres_db)) != postgres_db:
        problems.append("POSTGRES_DB %s is not the image's %s" % (env.get("POSTGRES_DB"), postgres_db))
print("; ".join(problems))
EOF
) || compose_check="could not read $compose"
expect_eq "compose.yaml builds docker/Dockerfile, keeps the data in a named volume, uses the image's health check" \
  "" "$compose_check"

ignored=$(cat .dockerignore 2>/dev/null)
for pattern in '**/*.o' '**/*.so' 'build'; do
  if grep -qxF "$pattern" <<<"$ignored"; then
    ok ".dockerignore leaves out $pattern (the image builds from clean sources)"
  else
    not_ok ".dockerignore leaves out $pattern (the image builds from clean sources)"
  fi
done

# ---------------------------------------------------------------- the first start
# A throwaway cluster with the CMD's settings (pg_virtualenv -o), on a random
# free port as scripts/with-cluster.sh does.
opts=()
for s in "${settings[@]}"; do
  opts+=(-o "$s")
done
# shellcheck source=scripts/lib/free-port.sh
. "$root/scripts/lib/free-port.sh"
PGPORT=$(pick_free_port)
export PGPORT
log=$(mktemp)
POSTGRES_DB=$postgres_db INIT_DIR=$root/$init_dir HEALTHCHECK_CMD="cd '$root' && $health_cmd" \
  timeout 300 pg_virtualenv -t -v 15 "${opts[@]}" bash "$0" --inside 2>&1 | tee "$log"
inner_rc=${PIPESTATUS[0]}
counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
rm -f "$log"
if [ -n "$counts" ]; then
  read -r p f <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
fi
if [ "$inner_rc" -ne 0 ] && { [ -z "$counts" ] || [ "${f:-0}" -eq 0 ]; }; then
  not_ok "the server with the image's settings ran its checks (exit $inner_rc)"
fi
summary
