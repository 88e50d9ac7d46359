// SQL entry points that configure what bounds a wallet besides its balance:
// credit line, concurrency cap, period limits, alerts; and their reads.
// None of them writes an event; each takes the wallet's path locks, so a
// change never lands in the middle of a call's decision.
#include <optional>
#include <string>

#include "core/errors.hpp"
#include "core/validate.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/error_wall.hpp"
#include "pg/policy_storage.hpp"
#include "pg/settings.hpp"
#include "pg/storage.hpp"
#include "pg/tree_write.hpp"

namespace baseledger::pg {
namespace {

using core::LedgerError;
namespace sqlstate = core::sqlstate;

[[noreturn]] void invalid(const std::string& message, const std::string& detail = {},
                          const std::string& hint = {}) {
  throw LedgerError(sqlstate::invalid_parameter_value, message, detail, hint);
}

// Locks and loads the wallet an administrator configures.
storage::WalletRow locked_wallet(const std::string& wallet_id) {
  tree_write::lock_path(wallet_id);
  std::optional<storage::WalletRow> row = storage::load_wallet_for_write(wallet_id);
  if (!row)
    throw LedgerError(sqlstate::wallet_not_found, "wallet not found",
                      "No wallet \"" + wallet_id + "\" exists.",
                      "Create it with ledger_create_wallet.");
  return *row;
}

core::Period period_arg(FunctionCallInfo fcinfo, int n) {
  const std::string text = args::required_text(fcinfo, n, "period");
  std::optional<core::Period> p = core::parse_period(text);
  if (!p)
    invalid("invalid period", "The value given is \"" + text + "\".",
            "A period is minute, hour, day, week or month.");
  return *p;
}

// What wallet_policy shows of the wallet now, read inside the session.
struct PolicyValues {
  std::string wallet_id;
  core::Policy policy;
  policy_storage::PolicyRow limits;
};

PolicyValues load_policy(const std::string& wallet_id) {
  std::optional<storage::WalletRow> row = storage::load_wallet_for_write(wallet_id);
  if (!row)
    throw LedgerError(sqlstate::wallet_not_found, "wallet not found",
                      "No wallet \"" + wallet_id + "\" exists.");
  return PolicyValues{wallet_id, row->policy,
                      policy_storage::load_policy_limits(wallet_id, clock_now())};
}

// The wallet_policy composite; formed after the session ended, in the
// caller's memory (the session's memory goes with it).
Datum policy_result(FunctionCallInfo fcinfo, const PolicyValues& p) {
  Datum values[5] = {storage::text_datum(p.wallet_id), BoolGetDatum(p.policy.capped),
                     Int64GetDatum(p.policy.overdraft),
                     Int32GetDatum(static_cast<int32>(p.policy.max_active.value_or(0))),
                     p.limits.limits_json};
  bool nulls[5] = {false, false, false, !p.policy.max_active.has_value(), p.limits.limits_null};
  return pg_call([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "baseledger: function must return a composite type");
    desc = BlessTupleDesc(desc);
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}

// Runs an administrator's change of the wallet's policy and returns the policy.
template <typename Change>
Datum configure(FunctionCallInfo fcinfo, const std::string& wallet_id, Change&& change) {
  const storage::Session session = storage::connect();
  access::require(wallet_id, access::Need::admin);
  const storage::WalletRow row = locked_wallet(wallet_id);
  change(row);
  const PolicyValues values = load_policy(wallet_id);
  storage::finish(session);
  return policy_result(fcinfo, values);
}

}  // namespace
}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_set_overdraft(wallet_id, amount): the wallet's credit line.
BASELEDGER_SQL_FUNCTION(ledger_set_overdraft) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const core::Amount amount = args::required_int64(fcinfo, 1, "amount");
    if (amount < 0)
      invalid("\"amount\" must not be negative",
              "The value given is " + std::to_string(amount) + ".",
              "Set 0 to remove the credit line.");
    return configure(fcinfo, wallet_id, [&](const storage::WalletRow& row) {
      if (!row.policy.capped)
        throw LedgerError(sqlstate::object_not_in_prerequisite_state, "wallet is uncapped",
                          "Wallet \"" + wallet_id + "\" has no budget of its own to extend.");
      // verify holds every event to the current credit line: it may not
      // drop below what the history already used.
      const core::Amount lowest = policy_storage::lowest_available(wallet_id);
      if (lowest < -amount)
        throw LedgerError(sqlstate::object_not_in_prerequisite_state,
                          "credit line below what the wallet has used",
                          "Wallet \"" + wallet_id + "\" went down to " + std::to_string(lowest) +
                              " available; a credit line of " + std::to_string(amount) +
                              " would not cover it.",
                          "Set a credit line of at least " + std::to_string(-lowest) + ".");
      policy_storage::set_overdraft(wallet_id, amount);
    });
  });
}

// ledger_set_concurrency(wallet_id, max_active): caps the active holds of the subtree.
BASELEDGER_SQL_FUNCTION(ledger_set_concurrency) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const std::optional<std::int32_t> max_active = args::optional_int32(fcinfo, 1);
    if (max_active && *max_active < 0)
      invalid("\"max_active\" must not be negative",
              "The value given is " + std::to_string(*max_active) + ".",
              "Pass NULL to remove the cap.");
    return configure(fcinfo, wallet_id, [&](const storage::WalletRow&) {
      policy_storage::set_concurrency(wallet_id, max_active);
    });
  });
}

// ledger_set_limit(wallet_id, period, max_amount, max_requests): a calendar
// period limit; both NULL removes it.
BASELEDGER_SQL_FUNCTION(ledger_set_limit) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const core::Period period = period_arg(fcinfo, 1);
    const std::optional<core::Amount> max_amount = args::optional_int64(fcinfo, 2);
    const std::optional<std::int32_t> max_requests = args::optional_int32(fcinfo, 3);
    if (max_amount && *max_amount < 0)
      invalid("\"max_amount\" must not be negative",
              "The value given is " + std::to_string(*max_amount) + ".");
    if (max_requests && *max_requests < 0)
      invalid("\"max_requests\" must not be negative",
              "The value given is " + std::to_string(*max_requests) + ".");
    return configure(fcinfo, wallet_id, [&](const storage::WalletRow&) {
      policy_storage::set_limit(wallet_id, period, max_amount, max_requests);
    });
  });
}

// ledger_policy(wallet_id): the wallet's policy and its limits' use now.
BASELEDGER_SQL_FUNCTION(ledger_policy) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::read);
    const PolicyValues values = load_policy(wallet_id);
    storage::finish(session);
    return policy_result(fcinfo, values);
  });
}

// ledger_set_alert(wallet_id, kind, threshold, period): sets or (NULL
// threshold) removes an alert rule.
BASELEDGER_SQL_FUNCTION(ledger_set_alert) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const std::string kind = args::required_text(fcinfo, 1, "kind");
    const std::optional<core::Amount> threshold = args::optional_int64(fcinfo, 2);
    std::string period;
    if (kind == "available_below") {
      if (!PG_ARGISNULL(3)) invalid("an available_below alert takes no period");
    } else if (kind == "period_used_pct") {
      period = core::to_string(period_arg(fcinfo, 3));
      if (threshold && (*threshold < 1 || *threshold > 100))
        invalid("\"threshold\" must be between 1 and 100",
                "The value given is " + std::to_string(*threshold) + ".",
                "A period_used_pct threshold is a percentage of the period's max_amount.");
    } else {
      invalid("invalid alert kind", "The value given is \"" + kind + "\".",
              "An alert kind is available_below or period_used_pct.");
    }
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::admin);
    locked_wallet(wallet_id);
    if (threshold && !period.empty() &&
        !policy_storage::has_amount_limit(wallet_id, *core::parse_period(period)))
      throw LedgerError(sqlstate::object_not_in_prerequisite_state,
                        "no amount limit for this period",
                        "Wallet \"" + wallet_id + "\" has no " + period +
                            " limit with a max_amount to take a percentage of.",
                        "Set one first with ledger_set_limit.");
    policy_storage::set_alert(wallet_id, kind, period, threshold);
    storage::finish(session);
    PG_RETURN_VOID();
  });
}

// ledger_alerts(wallet_id, after_id, max_rows): a page of fired alerts, of a
// wallet's subtree or (NULL) of every wallet.
BASELEDGER_SQL_FUNCTION(ledger_alerts) {
  return guarded([&] {
    std::optional<std::string> wallet_id;
    if (!PG_ARGISNULL(0)) wallet_id = args::wallet_id(fcinfo, 0);
    const std::int64_t after_id = args::required_int64(fcinfo, 1, "after_id");
    const std::int32_t max_rows = args::required_int32(fcinfo, 2, "max_rows");
    core::validate_history_page(after_id, max_rows);
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    const storage::Session session = storage::connect();
    if (wallet_id)
      access::require(*wallet_id, access::Need::read);
    else
      access::require_role(access::Need::audit);
    policy_storage::put_alerts(fcinfo, wallet_id, after_id, max_rows);
    storage::finish(session);
    return Datum(0);
  });
}
