// Validation of caller input; each check throws LedgerError with 22023 or 22004.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/types.hpp"

namespace baseledger::core {

// Raises 22004 naming the argument; used for every required argument.
[[noreturn]] void throw_null_argument(const char* name);

// 1-200 characters of letters, digits and ._:@- with / between non-empty segments.
void validate_wallet_id(std::string_view wallet_id);
// 1-32 characters of letters, digits and ._-, such as "credits" or "usd_micros".
void validate_unit(std::string_view unit);
// char_count is the key's length in characters of the database encoding.
void validate_idempotency_key(std::size_t char_count);
void validate_positive_amount(const char* name, Amount amount);
void validate_capture_amount(Amount amount);  // settle: 0 or more
void validate_ttl(Micros ttl, Micros max_ttl);
// metadata is the canonical text of a jsonb value.
void validate_metadata(std::string_view metadata);
void validate_history_page(std::int64_t after_seq, std::int32_t max_rows);
void validate_expire_batch(std::int32_t max_rows);

// on_expire: 'refund' (false) or 'capture' (true); 22023 otherwise.
bool parse_on_expire(std::string_view text);

}  // namespace baseledger::core
