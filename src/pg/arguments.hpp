// Decoding of SQL arguments into C++ values. A NULL where a value is required
// raises 22004; values are then checked by the core's validators.
#pragma once

#include <optional>
#include <string>

#include "core/types.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::args {

std::string required_text(FunctionCallInfo fcinfo, int n, const char* name);
std::string wallet_id(FunctionCallInfo fcinfo, int n);
std::string idempotency_key(FunctionCallInfo fcinfo, int n);
core::Amount required_int64(FunctionCallInfo fcinfo, int n, const char* name);
std::int32_t required_int32(FunctionCallInfo fcinfo, int n, const char* name);
bool required_bool(FunctionCallInfo fcinfo, int n, const char* name);
// NULL as nullopt.
std::optional<core::Amount> optional_int64(FunctionCallInfo fcinfo, int n);
std::optional<std::int32_t> optional_int32(FunctionCallInfo fcinfo, int n);
core::Uuid required_uuid(FunctionCallInfo fcinfo, int n, const char* name);
// The interval as microseconds, a month counting 30 days; validated against baseledger.max_ttl.
core::Micros ttl(FunctionCallInfo fcinfo, int n);
// The same for an interval value, validated too.
core::Micros interval_micros(const Interval* iv);

// Optional jsonb metadata: the datum to store and its canonical text.
struct Metadata {
  Datum datum = 0;
  bool is_null = true;
  std::optional<std::string> canonical;
};
Metadata metadata(FunctionCallInfo fcinfo, int n);

}  // namespace baseledger::pg::args
