// Overflow-checked amount arithmetic: exact results in range, 22003 outside it.
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "core/checked.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {
namespace {

constexpr Amount kMax = std::numeric_limits<Amount>::max();
constexpr Amount kMin = std::numeric_limits<Amount>::min();

TEST(CheckedAdd, ReturnsSumInRange) {
  EXPECT_EQ(checked_add(2, 3), 5);
  EXPECT_EQ(checked_add(-7, 3), -4);
  EXPECT_EQ(checked_add(kMax - 1, 1), kMax);
  EXPECT_EQ(checked_add(kMin + 1, -1), kMin);
  EXPECT_EQ(checked_add(kMax, kMin), -1);
}

TEST(CheckedAdd, OverflowIs22003) {
  EXPECT_SQLSTATE(checked_add(kMax, 1), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_add(1, kMax), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_add(kMax, kMax), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_add(kMin, -1), sqlstate::numeric_value_out_of_range);
}

TEST(CheckedSub, ReturnsDifferenceInRange) {
  EXPECT_EQ(checked_sub(5, 3), 2);
  EXPECT_EQ(checked_sub(3, 5), -2);
  EXPECT_EQ(checked_sub(kMin + 1, 1), kMin);
  EXPECT_EQ(checked_sub(kMax - 1, -1), kMax);
  EXPECT_EQ(checked_sub(-1, kMax), kMin);
}

TEST(CheckedSub, OverflowIs22003) {
  EXPECT_SQLSTATE(checked_sub(kMin, 1), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_sub(kMax, -1), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_sub(0, kMin), sqlstate::numeric_value_out_of_range);
  EXPECT_SQLSTATE(checked_sub(-2, kMax), sqlstate::numeric_value_out_of_range);
}

TEST(CheckedArithmetic, ErrorCarriesMessageAndDetail) {
  try {
    checked_add(kMax, 1);
    FAIL() << "no error raised";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.what(), "amount out of range");
    EXPECT_FALSE(e.detail().empty());
  }
}

}  // namespace
}  // namespace baseledger::core
