// Period limits, their use and alert rules, through SPI. Calendar periods are
// computed by SQL: date_trunc on the local time in baseledger.timezone.
#include "pg/policy_storage.hpp"

#include "core/errors.hpp"
#include "pg/error_wall.hpp"
#include "pg/settings.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg::policy_storage {

namespace {

using core::Micros;
using spi::Query;
using spi::row;
using spi::run;

// The start of the period of $2 in zone $3, and the start of the next one.
#define PERIOD_START(period, at, tz) \
  "(pg_catalog.date_trunc(" period ", (" at ") AT TIME ZONE " tz ") AT TIME ZONE " tz ")"
#define PERIOD_END(period, at, tz)                                                       \
  "((pg_catalog.date_trunc(" period ", (" at ") AT TIME ZONE " tz ") + ('1 ' || " period \
  ")::interval) AT TIME ZONE " tz ")"

Query q_limits = {
    "SELECT l.period, l.max_amount, l.max_requests, coalesce(u.amount, 0), "
    "coalesce(u.requests, 0), p.period_start, p.period_end "
    "FROM ledger.limits l "
    "CROSS JOIN LATERAL (SELECT " PERIOD_START("l.period", "$2", "$3") " AS period_start, " PERIOD_END(
        "l.period", "$2", "$3") " AS period_end) p "
                                "LEFT JOIN ledger.limit_usage u ON u.wallet_id = l.wallet_id "
                                "AND u.period = l.period AND u.period_start = p.period_start "
                                "WHERE l.wallet_id = $1",
    3,
    {TEXTOID, TIMESTAMPTZOID, TEXTOID},
    nullptr};

Query q_usage_add = {
    "INSERT INTO ledger.limit_usage AS u (wallet_id, period, period_start, amount, requests) "
    "SELECT l.wallet_id, l.period, " PERIOD_START("l.period", "$2", "$5") ", $3, $4 "
    "FROM ledger.limits l WHERE l.wallet_id = $1 "
    "ON CONFLICT (wallet_id, period, period_start) DO UPDATE SET "
    "amount = GREATEST(u.amount + EXCLUDED.amount, 0), "
    "requests = GREATEST(u.requests + EXCLUDED.requests, 0)",
    5,
    {TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID},
    nullptr};

// A give-back touches only periods that counted the hold.
Query q_usage_give_back = {
    "UPDATE ledger.limit_usage u SET amount = GREATEST(u.amount + $3, 0), "
    "requests = GREATEST(u.requests + $4, 0) FROM ledger.limits l "
    "WHERE l.wallet_id = $1 AND u.wallet_id = $1 AND u.period = l.period "
    "AND u.period_start = " PERIOD_START("l.period", "$2", "$5"),
    5,
    {TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID},
    nullptr};

// One statement: each rule's value now, the rules whose state flips, the
// alerts they fire, and a NOTIFY per alert (sent at commit).
Query q_alerts = {
    "WITH v AS ("
    "  SELECT r.kind, r.period, r.threshold, r.armed, "
    "    CASE r.kind WHEN 'available_below' THEN $2::bigint ELSE ("
    "      SELECT coalesce(u.amount, 0) * 100 / l.max_amount FROM ledger.limits l "
    "      LEFT JOIN ledger.limit_usage u ON u.wallet_id = l.wallet_id AND u.period = l.period "
    "        AND u.period_start = " PERIOD_START("l.period", "$3", "$4") " "
    "      WHERE l.wallet_id = r.wallet_id AND l.period = r.period AND l.max_amount > 0) "
    "    END AS value "
    "  FROM ledger.alert_rules r WHERE r.wallet_id = $1"
    "), c AS ("
    "  SELECT v.*, CASE v.kind WHEN 'available_below' THEN v.value < v.threshold "
    "    ELSE v.value >= v.threshold END AS hit FROM v WHERE v.value IS NOT NULL"
    "), flipped AS ("
    "  UPDATE ledger.alert_rules r SET armed = NOT c.hit FROM c "
    "  WHERE r.wallet_id = $1 AND r.kind = c.kind AND r.period = c.period "
    "    AND r.armed = c.hit RETURNING c.kind, c.period, c.threshold, c.value, c.hit"
    "), fired AS ("
    "  INSERT INTO ledger.alerts (wallet_id, kind, period, threshold, value, at) "
    "  SELECT $1, f.kind, NULLIF(f.period, ''), f.threshold, f.value, $3 FROM flipped f "
    "  WHERE f.hit RETURNING *"
    ") SELECT pg_catalog.pg_notify('baseledger_alerts', pg_catalog.json_build_object("
    "  'alert_id', alert_id, 'wallet', wallet_id, 'kind', kind, 'period', period, "
    "  'threshold', threshold, 'value', value, 'at', at)::text) FROM fired",
    4,
    {TEXTOID, INT8OID, TIMESTAMPTZOID, TEXTOID},
    nullptr};

Query q_prune_usage = {
    "DELETE FROM ledger.limit_usage u WHERE u.period_start < " PERIOD_START("u.period", "$1", "$2"),
    2,
    {TIMESTAMPTZOID, TEXTOID},
    nullptr};

Query q_set_overdraft = {"UPDATE ledger.wallets SET overdraft = $2 WHERE wallet_id = $1",
                         2,
                         {TEXTOID, INT8OID},
                         nullptr};
Query q_lowest_available = {
    "SELECT least((SELECT min(balance - reserved) FROM ledger.events WHERE wallet_id = $1), "
    "(SELECT balance - reserved FROM ledger.wallets WHERE wallet_id = $1))",
    1,
    {TEXTOID},
    nullptr};
Query q_set_concurrency = {"UPDATE ledger.wallets SET max_active = $2 WHERE wallet_id = $1",
                           2,
                           {TEXTOID, INT4OID},
                           nullptr};
Query q_upsert_limit = {
    "INSERT INTO ledger.limits (wallet_id, period, max_amount, max_requests) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (wallet_id, period) DO UPDATE SET "
    "max_amount = EXCLUDED.max_amount, max_requests = EXCLUDED.max_requests",
    4,
    {TEXTOID, TEXTOID, INT8OID, INT4OID},
    nullptr};
Query q_delete_limit = {
    "WITH d AS (DELETE FROM ledger.limits WHERE wallet_id = $1 AND period = $2 RETURNING 1) "
    "DELETE FROM ledger.limit_usage WHERE wallet_id = $1 AND period = $2",
    2,
    {TEXTOID, TEXTOID},
    nullptr};
Query q_flag_limits = {
    "UPDATE ledger.wallets SET has_limits = EXISTS "
    "(SELECT 1 FROM ledger.limits l WHERE l.wallet_id = $1) WHERE wallet_id = $1",
    1,
    {TEXTOID},
    nullptr};
Query q_has_amount_limit = {
    "SELECT 1 FROM ledger.limits WHERE wallet_id = $1 AND period = $2 AND max_amount > 0",
    2,
    {TEXTOID, TEXTOID},
    nullptr};
Query q_upsert_alert = {
    "INSERT INTO ledger.alert_rules (wallet_id, kind, period, threshold) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (wallet_id, kind, period) DO UPDATE SET threshold = EXCLUDED.threshold, "
    "armed = true",
    4,
    {TEXTOID, TEXTOID, TEXTOID, INT8OID},
    nullptr};
Query q_delete_alert = {
    "DELETE FROM ledger.alert_rules WHERE wallet_id = $1 AND kind = $2 AND period = $3",
    3,
    {TEXTOID, TEXTOID, TEXTOID},
    nullptr};
Query q_flag_alerts = {
    "UPDATE ledger.wallets SET has_alerts = EXISTS "
    "(SELECT 1 FROM ledger.alert_rules r WHERE r.wallet_id = $1) WHERE wallet_id = $1",
    1,
    {TEXTOID},
    nullptr};
Query q_policy_limits = {
    "SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('period', l.period, "
    "'max_amount', l.max_amount, 'max_requests', l.max_requests, "
    "'used_amount', coalesce(u.amount, 0), 'used_requests', coalesce(u.requests, 0), "
    "'period_start', p.period_start) ORDER BY pg_catalog.array_position("
    "ARRAY['minute','hour','day','week','month'], l.period)) "
    "FROM ledger.limits l "
    "CROSS JOIN LATERAL (SELECT " PERIOD_START("l.period", "$2", "$3") " AS period_start) p "
    "LEFT JOIN ledger.limit_usage u ON u.wallet_id = l.wallet_id AND u.period = l.period "
    "AND u.period_start = p.period_start WHERE l.wallet_id = $1",
    3,
    {TEXTOID, TIMESTAMPTZOID, TEXTOID},
    nullptr};
Query q_alerts_of_subtree = {
    "SELECT alert_id, wallet_id, kind, period, threshold, value, at FROM ledger.alerts "
    "WHERE (wallet_id = $1 OR (wallet_id >= $1 || '/' AND wallet_id < $1 || '0')) "
    "AND alert_id > $2 ORDER BY alert_id LIMIT $3",
    3,
    {TEXTOID, INT8OID, INT8OID},
    nullptr};
Query q_alerts_all = {
    "SELECT alert_id, wallet_id, kind, period, threshold, value, at FROM ledger.alerts "
    "WHERE alert_id > $1 ORDER BY alert_id LIMIT $2",
    2,
    {INT8OID, INT8OID},
    nullptr};

Datum tz_datum() {
  return storage::text_datum(ledger_timezone());
}

}  // namespace

std::vector<core::LimitUsage> load_limits(const std::string& wallet_id, Micros at) {
  Datum args[3] = {storage::text_datum(wallet_id), TimestampTzGetDatum(at), tz_datum()};
  const uint64 n = run(q_limits, args, nullptr, false);
  std::vector<core::LimitUsage> out(n);
  std::vector<char*> periods(n, nullptr);
  std::vector<char> has_amount(n, 0), has_requests(n, 0);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      periods[i] = r.cstring_at(1);
      bool isnull;
      Datum d = r.get(2, &isnull);
      if (!isnull) out[i].max_amount = DatumGetInt64(d);
      d = r.get(3, &isnull);
      if (!isnull) out[i].max_requests = DatumGetInt32(d);
      out[i].used_amount = r.int64_at(4);
      out[i].used_requests = r.int64_at(5);
      r.timestamp_at(6, &out[i].period_start);
      r.timestamp_at(7, &out[i].period_end);
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    auto period = periods[i] ? core::parse_period(periods[i]) : std::nullopt;
    if (!period) throw core::LedgerError(core::sqlstate::internal_error, "unknown limit period");
    out[i].period = *period;
  }
  return out;
}

void add_usage(const std::string& wallet_id, Micros admitted_at, core::Amount amount,
               std::int64_t requests) {
  Datum args[5] = {storage::text_datum(wallet_id), TimestampTzGetDatum(admitted_at),
                   Int64GetDatum(amount), Int64GetDatum(requests), tz_datum()};
  run(amount > 0 || requests > 0 ? q_usage_add : q_usage_give_back, args, nullptr, false);
}

void prune_usage(Micros now) {
  Datum args[2] = {TimestampTzGetDatum(now), tz_datum()};
  run(q_prune_usage, args, nullptr, false);
}

void evaluate_alerts(const std::string& wallet_id, core::Amount available, Micros at) {
  Datum args[4] = {storage::text_datum(wallet_id), Int64GetDatum(available),
                   TimestampTzGetDatum(at), tz_datum()};
  run(q_alerts, args, nullptr, false);
}

void set_overdraft(const std::string& wallet_id, core::Amount amount) {
  Datum args[2] = {storage::text_datum(wallet_id), Int64GetDatum(amount)};
  run(q_set_overdraft, args, nullptr, false);
}

core::Amount lowest_available(const std::string& wallet_id) {
  Datum args[1] = {storage::text_datum(wallet_id)};
  run(q_lowest_available, args, nullptr, false);
  core::Amount out = 0;
  pg_try([&] { out = row(0).int64_at(1); });
  return out;
}

void set_concurrency(const std::string& wallet_id, std::optional<std::int32_t> max_active) {
  Datum args[2] = {storage::text_datum(wallet_id), Int32GetDatum(max_active.value_or(0))};
  const char nulls[2] = {' ', max_active ? ' ' : 'n'};
  run(q_set_concurrency, args, nulls, false);
}

void set_limit(const std::string& wallet_id, core::Period period,
               std::optional<core::Amount> max_amount, std::optional<std::int32_t> max_requests) {
  Datum id = storage::text_datum(wallet_id);
  Datum p = storage::text_datum(core::to_string(period));
  if (!max_amount && !max_requests) {
    Datum args[2] = {id, p};
    run(q_delete_limit, args, nullptr, false);
  } else {
    Datum args[4] = {id, p, Int64GetDatum(max_amount.value_or(0)),
                     Int32GetDatum(max_requests.value_or(0))};
    const char nulls[4] = {' ', ' ', max_amount ? ' ' : 'n', max_requests ? ' ' : 'n'};
    run(q_upsert_limit, args, nulls, false);
  }
  Datum flag_args[1] = {id};
  run(q_flag_limits, flag_args, nullptr, false);
}

bool has_amount_limit(const std::string& wallet_id, core::Period period) {
  Datum args[2] = {storage::text_datum(wallet_id), storage::text_datum(core::to_string(period))};
  return run(q_has_amount_limit, args, nullptr, false) > 0;
}

void set_alert(const std::string& wallet_id, const std::string& kind, const std::string& period,
               std::optional<core::Amount> threshold) {
  Datum id = storage::text_datum(wallet_id);
  if (threshold) {
    Datum args[4] = {id, storage::text_datum(kind), storage::text_datum(period),
                     Int64GetDatum(*threshold)};
    run(q_upsert_alert, args, nullptr, false);
  } else {
    Datum args[3] = {id, storage::text_datum(kind), storage::text_datum(period)};
    run(q_delete_alert, args, nullptr, false);
  }
  Datum flag_args[1] = {id};
  run(q_flag_alerts, flag_args, nullptr, false);
}

PolicyRow load_policy_limits(const std::string& wallet_id, Micros at) {
  Datum args[3] = {storage::text_datum(wallet_id), TimestampTzGetDatum(at), tz_datum()};
  // Not read-only: the policy just changed in this call must be seen.
  run(q_policy_limits, args, nullptr, false);
  PolicyRow out;
  out.found = true;
  pg_try([&] {
    bool isnull;
    Datum d = row(0).get(1, &isnull);
    out.limits_null = isnull;
    if (!isnull) out.limits_json = SPI_datumTransfer(d, false, -1);
  });
  return out;
}

void put_alerts(FunctionCallInfo fcinfo, const std::optional<std::string>& wallet_id,
                std::int64_t after_id, std::int32_t max_rows) {
  uint64 n;
  if (wallet_id) {
    Datum args[3] = {storage::text_datum(*wallet_id), Int64GetDatum(after_id),
                     Int64GetDatum(max_rows)};
    n = run(q_alerts_of_subtree, args, nullptr, true);
  } else {
    Datum args[2] = {Int64GetDatum(after_id), Int64GetDatum(max_rows)};
    n = run(q_alerts_all, args, nullptr, true);
  }
  pg_try([&] {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (uint64 i = 0; i < n; ++i) {
      Datum values[7];
      bool nulls[7];
      for (int col = 1; col <= 7; ++col)
        values[col - 1] =
            SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col, &nulls[col - 1]);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
}

}  // namespace baseledger::pg::policy_storage
