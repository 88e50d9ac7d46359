// The wall between C++ exceptions and PostgreSQL's longjmp-based errors.
//
// Rules (see README, "Design"): every SQL entry point runs its body through
// guarded(), which catches every C++ exception and raises it as a PostgreSQL
// error with its SQLSTATE after the catch block has ended. Every PostgreSQL
// call that can raise an error runs inside pg_call(), which turns the error
// into a PgError exception. Code inside a pg_call() lambda holds only plain
// data, so a longjmp never skips a C++ destructor.
#pragma once

#include <exception>
#include <type_traits>

#include "pg/postgres_headers.hpp"

namespace baseledger::pg {

// A PostgreSQL error caught by pg_call(), carried to the entry point intact.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data_(data) {}
  ErrorData* data() const noexcept { return data_; }
  int sqlerrcode() const noexcept { return data_->sqlerrcode; }
  const char* what() const noexcept override {
    return data_->message ? data_->message : "postgresql error";
  }

 private:
  ErrorData* data_;
};

// Runs f, turning a PostgreSQL error it raises into a PgError.
template <typename F>
void pg_try(F&& f) {
  ErrorData* volatile caught = nullptr;  // set after the longjmp
  MemoryContext context = CurrentMemoryContext;
  PG_TRY();
  { f(); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    caught = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (caught != nullptr) throw PgError(caught);
}

// pg_try for a lambda that returns a plain value (a pointer, a Datum, a number).
template <typename F>
auto pg_call(F&& f) -> decltype(f()) {
  using R = decltype(f());
  if constexpr (std::is_void_v<R>) {
    pg_try(f);
  } else {
    static_assert(std::is_trivially_copyable_v<R>, "pg_call returns plain values only");
    R result{};
    pg_try([&] { result = f(); });
    return result;
  }
}

// An error copied out of a catch block, to be raised once the block has ended.
struct PendingError {
  ErrorData* pg = nullptr;  // a caught PostgreSQL error, re-raised as it was
  int sqlerrcode = 0;
  const char* message = nullptr;
  const char* detail = nullptr;
  const char* hint = nullptr;
};

// Fills pending from the exception being handled; allocates nothing that can fail.
void capture_current_exception(PendingError* pending) noexcept;
// Raises the pending error; never returns.
[[noreturn]] void raise_pending(const PendingError& pending);

// Runs the body of an SQL entry point behind the wall.
template <typename F>
Datum guarded(F&& body) {
  PendingError pending;
  try {
    return body();
  } catch (...) {
    capture_current_exception(&pending);
  }
  raise_pending(pending);
}

}  // namespace baseledger::pg
