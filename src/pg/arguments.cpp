// Decoding of SQL arguments.
#include "pg/arguments.hpp"

#include <cstring>
#include <limits>

#include "core/validate.hpp"
#include "pg/error_wall.hpp"
#include "pg/settings.hpp"

namespace baseledger::pg::args {

namespace {

void require(FunctionCallInfo fcinfo, int n, const char* name) {
  if (PG_ARGISNULL(n)) core::throw_null_argument(name);
}

struct TextBytes {
  const char* data;
  int len;
};

TextBytes text_bytes(FunctionCallInfo fcinfo, int n) {
  return pg_call([&] {
    text* t = PG_GETARG_TEXT_PP(n);
    return TextBytes{VARDATA_ANY(t), static_cast<int>(VARSIZE_ANY_EXHDR(t))};
  });
}

}  // namespace

std::string required_text(FunctionCallInfo fcinfo, int n, const char* name) {
  require(fcinfo, n, name);
  TextBytes t = text_bytes(fcinfo, n);
  return std::string(t.data, t.len);
}

std::string wallet_id(FunctionCallInfo fcinfo, int n) {
  std::string id = required_text(fcinfo, n, "wallet_id");
  core::validate_wallet_id(id);
  return id;
}

std::string idempotency_key(FunctionCallInfo fcinfo, int n) {
  require(fcinfo, n, "idempotency_key");
  TextBytes t = text_bytes(fcinfo, n);
  int chars = pg_call([&] { return pg_mbstrlen_with_len(t.data, t.len); });
  core::validate_idempotency_key(static_cast<std::size_t>(chars));
  return std::string(t.data, t.len);
}

core::Amount required_int64(FunctionCallInfo fcinfo, int n, const char* name) {
  require(fcinfo, n, name);
  return PG_GETARG_INT64(n);
}

std::int32_t required_int32(FunctionCallInfo fcinfo, int n, const char* name) {
  require(fcinfo, n, name);
  return PG_GETARG_INT32(n);
}

bool required_bool(FunctionCallInfo fcinfo, int n, const char* name) {
  require(fcinfo, n, name);
  return PG_GETARG_BOOL(n);
}

std::optional<core::Amount> optional_int64(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return PG_GETARG_INT64(n);
}

std::optional<std::int32_t> optional_int32(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return PG_GETARG_INT32(n);
}

core::Uuid required_uuid(FunctionCallInfo fcinfo, int n, const char* name) {
  require(fcinfo, n, name);
  core::Uuid id;
  std::memcpy(id.bytes.data(), PG_GETARG_UUID_P(n)->data, UUID_LEN);
  return id;
}

core::Micros ttl(FunctionCallInfo fcinfo, int n) {
  require(fcinfo, n, "ttl");
  return interval_micros(PG_GETARG_INTERVAL_P(n));
}

core::Micros interval_micros(const Interval* iv) {
  core::Micros total = 0, part = 0;
  bool overflow =
      __builtin_mul_overflow(static_cast<core::Micros>(iv->month), DAYS_PER_MONTH * USECS_PER_DAY,
                             &part) ||
      __builtin_add_overflow(total, part, &total) ||
      __builtin_mul_overflow(static_cast<core::Micros>(iv->day), USECS_PER_DAY, &part) ||
      __builtin_add_overflow(total, part, &total) ||
      __builtin_add_overflow(total, iv->time, &total);
  if (overflow)
    total = iv->time < 0 || iv->day < 0 || iv->month < 0 ? std::numeric_limits<core::Micros>::min()
                                                         : std::numeric_limits<core::Micros>::max();
  core::validate_ttl(total, max_ttl());
  return total;
}

Metadata metadata(FunctionCallInfo fcinfo, int n) {
  Metadata out;
  if (PG_NARGS() <= n || PG_ARGISNULL(n)) return out;
  struct Raw {
    Datum datum;
    char* text;
  };
  Raw raw = pg_call([&] {
    Jsonb* jb = PG_GETARG_JSONB_P(n);
    return Raw{PointerGetDatum(jb), JsonbToCString(nullptr, &jb->root, VARSIZE(jb))};
  });
  out.datum = raw.datum;
  out.is_null = false;
  out.canonical = std::string(raw.text);
  core::validate_metadata(*out.canonical);
  return out;
}

}  // namespace baseledger::pg::args
