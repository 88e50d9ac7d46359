// The baseledger.* settings (GUCs) and the ledger's clock.
#include "pg/settings.hpp"

#include "pg/postgres_headers.hpp"

namespace baseledger::pg {

namespace {
int max_ttl_seconds = 86400;
int clock_offset_ms = 0;
int max_active_holds = 10000;
char* timezone_name = nullptr;
bool release_locks_early = true;

// Accepts the names PostgreSQL's own TimeZone accepts from the tz database.
bool check_timezone(char** newval, void** extra, GucSource source) {
  if (*newval == nullptr || pg_tzset(*newval) == nullptr) {
    GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval ? *newval : "");
    return false;
  }
  return true;
}
}  // namespace

const char* ledger_timezone() {
  return timezone_name ? timezone_name : "UTC";
}

core::Micros max_ttl() {
  return static_cast<core::Micros>(max_ttl_seconds) * USECS_PER_SEC;
}

std::int64_t max_active_reservations() {
  return max_active_holds;
}

bool early_lock_release() {
  return release_locks_early;
}

core::Micros clock_now() {
  return GetCurrentTimestamp() + static_cast<core::Micros>(clock_offset_ms) * 1000;
}

void define_settings() {
  DefineCustomIntVariable("baseledger.max_ttl", "Longest time to live a hold may be given.",
                          "ledger_reserve and ledger_extend refuse a longer ttl with 22023.",
                          &max_ttl_seconds, 86400, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable(
      "baseledger.clock_offset", "Shifts the ledger's clock; for tests only.",
      "Added to the server's clock for every ledger decision. Event times still increase "
      "within a wallet when the offset steps back.",
      &clock_offset_ms, 0, INT_MIN, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "baseledger.max_active_reservations", "Most active holds a wallet may have at once.",
      "ledger_reserve refuses another hold with 54000 beyond it.", &max_active_holds, 10000, 1,
      INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "baseledger.timezone", "Time zone of the calendar periods of limits.",
      "Minute, hour, day, week (from Monday) and month limits start at calendar boundaries "
      "in this zone.",
      &timezone_name, "UTC", PGC_USERSET, 0, check_timezone, nullptr, nullptr);
  DefineCustomBoolVariable(
      "baseledger.early_lock_release",
      "Releases a committing transaction's wallet locks before its commit is flushed.",
      "The commit becomes visible, the wallet's next call may start, and the commit is flushed "
      "before it is acknowledged: a wallet is no longer held for the length of a WAL flush. Off: "
      "wallet locks are held until the flush, as transaction locks are.",
      &release_locks_early, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("baseledger");
}

}  // namespace baseledger::pg
