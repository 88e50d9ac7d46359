// Overflow-checked amount arithmetic: an overflow is 22003, never a wrapped value.
#pragma once

#include "core/errors.hpp"
#include "core/types.hpp"

namespace baseledger::core {

inline Amount checked_add(Amount a, Amount b) {
  Amount out;
  if (__builtin_add_overflow(a, b, &out))
    throw LedgerError(sqlstate::numeric_value_out_of_range, "amount out of range",
                      "The result would not fit in a bigint.");
  return out;
}

inline Amount checked_sub(Amount a, Amount b) {
  Amount out;
  if (__builtin_sub_overflow(a, b, &out))
    throw LedgerError(sqlstate::numeric_value_out_of_range, "amount out of range",
                      "The result would not fit in a bigint.");
  return out;
}

}  // namespace baseledger::core
