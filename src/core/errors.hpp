// Errors of the ledger core: each carries the SQLSTATE that clients branch on.
#pragma once

#include <stdexcept>
#include <string>

namespace baseledger::core {

// SQLSTATEs raised by the ledger (five characters each).
namespace sqlstate {
inline constexpr const char* insufficient_funds = "LB001";
inline constexpr const char* wallet_not_found = "LB002";
inline constexpr const char* reservation_not_found = "LB003";
inline constexpr const char* reservation_closed = "LB004";
inline constexpr const char* reservation_expired = "LB005";
inline constexpr const char* capture_exceeds_hold = "LB006";
inline constexpr const char* idempotency_conflict = "LB007";
inline constexpr const char* limit_reached = "LB008";
inline constexpr const char* object_not_in_prerequisite_state = "55000";
inline constexpr const char* duplicate_object = "42710";
inline constexpr const char* null_value_not_allowed = "22004";
inline constexpr const char* invalid_parameter_value = "22023";
inline constexpr const char* numeric_value_out_of_range = "22003";
inline constexpr const char* serialization_failure = "40001";
inline constexpr const char* program_limit_exceeded = "54000";
inline constexpr const char* insufficient_privilege = "42501";
inline constexpr const char* internal_error = "XX000";
}  // namespace sqlstate

// A refusal decided by the core. message follows PostgreSQL's style (lowercase,
// no final period); detail and hint are full sentences or empty.
class LedgerError : public std::runtime_error {
 public:
  LedgerError(const char* sqlstate, std::string message, std::string detail = {},
              std::string hint = {})
      : std::runtime_error(std::move(message)),
        sqlstate_(sqlstate),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const char* sqlstate() const noexcept { return sqlstate_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  const char* sqlstate_;
  std::string detail_;
  std::string hint_;
};

}  // namespace baseledger::core
