// Turning caught C++ exceptions into PostgreSQL errors that keep their SQLSTATE.
#include "pg/error_wall.hpp"

#include <cstring>
#include <new>

#include "core/errors.hpp"

namespace baseledger::pg {

namespace {

// A copy of text in the current memory context, or a fixed fallback when
// memory is short: palloc's out-of-memory error must not fire inside a catch.
const char* copy_text(const char* text, const char* fallback) noexcept {
  if (text == nullptr || *text == '\0') return fallback;
  size_t n = std::strlen(text);
  char* out = static_cast<char*>(palloc_extended(n + 1, MCXT_ALLOC_NO_OOM));
  if (out == nullptr) return fallback;
  std::memcpy(out, text, n + 1);
  return out;
}

int sqlstate_code(const char* s) noexcept {
  return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

}  // namespace

void capture_current_exception(PendingError* pending) noexcept {
  try {
    throw;
  } catch (const PgError& e) {
    pending->pg = e.data();
  } catch (const core::LedgerError& e) {
    pending->sqlerrcode = sqlstate_code(e.sqlstate());
    pending->message = copy_text(e.what(), "ledger error");
    pending->detail = copy_text(e.detail().c_str(), nullptr);
    pending->hint = copy_text(e.hint().c_str(), nullptr);
  } catch (const std::bad_alloc&) {
    pending->sqlerrcode = ERRCODE_OUT_OF_MEMORY;
    pending->message = "out of memory";
  } catch (const std::exception& e) {
    pending->sqlerrcode = ERRCODE_INTERNAL_ERROR;
    pending->message = copy_text(e.what(), "internal error");
  } catch (...) {
    pending->sqlerrcode = ERRCODE_INTERNAL_ERROR;
    pending->message = "internal error: unknown exception";
  }
}

void raise_pending(const PendingError& pending) {
  if (pending.pg != nullptr) ReThrowError(pending.pg);
  ereport(ERROR, (errcode(pending.sqlerrcode), errmsg_internal("%s", pending.message),
                  pending.detail ? errdetail_internal("%s", pending.detail) : 0,
                  pending.hint ? errhint("%s", pending.hint) : 0));
  pg_unreachable();
}

}  // namespace baseledger::pg
