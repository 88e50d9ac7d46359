// Assertion shared by the unit tests: a statement must throw LedgerError with
// the given SQLSTATE (any other outcome, including another exception, fails).
#pragma once

#include <gtest/gtest.h>

#include "core/errors.hpp"

#define EXPECT_SQLSTATE(statement, code)                                                     \
  do {                                                                                       \
    try {                                                                                    \
      statement;                                                                             \
      ADD_FAILURE() << "expected LedgerError " << (code) << " from: " #statement;            \
    } catch (const ::baseledger::core::LedgerError& error_) {                                \
      EXPECT_STREQ(error_.sqlstate(), (code)) << #statement << " raised: " << error_.what(); \
    }                                                                                        \
  } while (0)
