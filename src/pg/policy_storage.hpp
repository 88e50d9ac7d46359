// Storage of what bounds wallets besides their balance: period limits and
// their use, and alert rules. Times are bucketed into calendar periods by SQL
// in baseledger.timezone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::policy_storage {

// The wallet's limits with their use in the periods that contain `at`.
std::vector<core::LimitUsage> load_limits(const std::string& wallet_id, core::Micros at);

// Adds amount and requests to the wallet's use in each limited period that
// contains admitted_at (never below zero).
void add_usage(const std::string& wallet_id, core::Micros admitted_at, core::Amount amount,
               std::int64_t requests);

// Deletes the use of periods that have ended (nothing counts in them any more).
void prune_usage(core::Micros now);

// Evaluates the wallet's alert rules after a write; fires (table row and
// NOTIFY baseledger_alerts) those crossed, re-arms those gone back.
void evaluate_alerts(const std::string& wallet_id, core::Amount available, core::Micros at);

// Administration (the caller holds the wallet's lock).
void set_overdraft(const std::string& wallet_id, core::Amount amount);
// The lowest balance - reserved the wallet's history and state reached.
core::Amount lowest_available(const std::string& wallet_id);
void set_concurrency(const std::string& wallet_id, std::optional<std::int32_t> max_active);
void set_limit(const std::string& wallet_id, core::Period period,
               std::optional<core::Amount> max_amount, std::optional<std::int32_t> max_requests);
bool has_amount_limit(const std::string& wallet_id, core::Period period);
void set_alert(const std::string& wallet_id, const std::string& kind, const std::string& period,
               std::optional<core::Amount> threshold);

// The wallet_policy composite as SQL builds it, with the limits' use at `at`.
struct PolicyRow {
  bool found = false;
  Datum limits_json = 0;
  bool limits_null = true;
};
PolicyRow load_policy_limits(const std::string& wallet_id, core::Micros at);

// A page of fired alerts into the set-returning function's result.
void put_alerts(FunctionCallInfo fcinfo, const std::optional<std::string>& wallet_id,
                std::int64_t after_id, std::int32_t max_rows);

}  // namespace baseledger::pg::policy_storage
