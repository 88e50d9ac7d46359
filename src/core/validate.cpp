// Validation of caller input against the documented limits.
#include "core/validate.hpp"

#include <string>

#include "core/errors.hpp"
#include "core/limits.hpp"

namespace baseledger::core {

namespace {

[[noreturn]] void invalid(std::string message, std::string detail = {}, std::string hint = {}) {
  throw LedgerError(sqlstate::invalid_parameter_value, std::move(message), std::move(detail),
                    std::move(hint));
}

bool wallet_char_allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '@' || c == '-';
}

}  // namespace

void throw_null_argument(const char* name) {
  throw LedgerError(sqlstate::null_value_not_allowed,
                    std::string("argument \"") + name + "\" must not be null");
}

void validate_wallet_id(std::string_view wallet_id) {
  const char* hint =
      "A wallet id is 1 to 200 letters, digits or ._:@- characters, with / between the "
      "segments of a path such as \"acme/research/agent-7\".";
  if (wallet_id.empty() || wallet_id.size() > limits::wallet_id_max_chars)
    invalid("invalid wallet id",
            "The wallet id has " + std::to_string(wallet_id.size()) + " characters.", hint);
  bool segment_empty = true;
  for (char c : wallet_id) {
    if (c == '/') {
      if (segment_empty) invalid("invalid wallet id", "The wallet id has an empty segment.", hint);
      segment_empty = true;
    } else if (wallet_char_allowed(c)) {
      segment_empty = false;
    } else {
      invalid("invalid wallet id", "The wallet id contains a character that is not allowed.", hint);
    }
  }
  if (segment_empty) invalid("invalid wallet id", "The wallet id has an empty segment.", hint);
}

void validate_unit(std::string_view unit) {
  bool ok = !unit.empty() && unit.size() <= 32;
  for (char c : unit)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  if (!ok)
    invalid("invalid unit", {},
            "A unit is 1 to 32 letters, digits or ._- characters, such as \"credits\".");
}

void validate_idempotency_key(std::size_t char_count) {
  if (char_count < 1 || char_count > limits::idempotency_key_max_chars)
    invalid("invalid idempotency key", "The key has " + std::to_string(char_count) + " characters.",
            "An idempotency key is 1 to 255 characters long.");
}

void validate_positive_amount(const char* name, Amount amount) {
  if (amount <= 0)
    invalid(std::string("\"") + name + "\" must be greater than zero",
            "The value given is " + std::to_string(amount) + ".");
}

void validate_capture_amount(Amount amount) {
  if (amount < 0)
    invalid("\"amount\" must not be negative", "The value given is " + std::to_string(amount) + ".",
            "Settle with 0 to capture nothing and release the whole hold.");
}

void validate_ttl(Micros ttl, Micros max_ttl) {
  if (ttl <= 0) invalid("\"ttl\" must be greater than zero");
  if (ttl > max_ttl)
    invalid("\"ttl\" exceeds the maximum",
            "The ttl is " + std::to_string(ttl / 1000000) + " seconds; the maximum is " +
                std::to_string(max_ttl / 1000000) + " seconds.",
            "Raise baseledger.max_ttl, or extend the hold with ledger_extend while the call runs.");
}

void validate_metadata(std::string_view metadata) {
  if (metadata.empty() || metadata.front() != '{') invalid("\"metadata\" must be a JSON object");
  if (metadata.size() > limits::metadata_max_bytes)
    invalid("\"metadata\" is too large", "The metadata takes " + std::to_string(metadata.size()) +
                                             " bytes as text; the limit is " +
                                             std::to_string(limits::metadata_max_bytes) + ".");
}

void validate_history_page(std::int64_t after_seq, std::int32_t max_rows) {
  if (after_seq < 0) invalid("\"after_seq\" must not be negative");
  if (max_rows < 1 || max_rows > limits::history_max_rows)
    invalid("\"max_rows\" must be between 1 and " + std::to_string(limits::history_max_rows));
}

void validate_expire_batch(std::int32_t max_rows) {
  if (max_rows < 1 || max_rows > limits::expire_max_rows)
    invalid("\"max_rows\" must be between 1 and " + std::to_string(limits::expire_max_rows));
}

bool parse_on_expire(std::string_view text) {
  if (text == "refund") return false;
  if (text == "capture") return true;
  invalid("invalid on_expire", "The value given is \"" + std::string(text) + "\".",
          "on_expire is 'refund' (the default) or 'capture'.");
}

}  // namespace baseledger::core
