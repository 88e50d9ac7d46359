// Names of event kinds and reservation states as stored in SQL, uuid text form
// and the derived available amount of a wallet.
#include <gtest/gtest.h>

#include "core/types.hpp"

namespace baseledger::core {
namespace {

TEST(EventKindNames, RoundTrip) {
  const char* names[] = {"credit", "debit", "reserve", "settle", "cancel", "extend", "expire"};
  for (int i = 0; i < 7; ++i) {
    const auto kind = static_cast<EventKind>(i);
    EXPECT_STREQ(to_string(kind), names[i]);
    ASSERT_TRUE(parse_event_kind(names[i]).has_value()) << names[i];
    EXPECT_EQ(*parse_event_kind(names[i]), kind);
  }
}

TEST(EventKindNames, UnknownNamesAreRejected) {
  EXPECT_FALSE(parse_event_kind("").has_value());
  EXPECT_FALSE(parse_event_kind("Credit").has_value());
  EXPECT_FALSE(parse_event_kind("credit ").has_value());
  EXPECT_FALSE(parse_event_kind("refund").has_value());
}

TEST(ReservationStateNames, RoundTrip) {
  const char* names[] = {"active", "settled", "cancelled", "expired"};
  for (int i = 0; i < 4; ++i) {
    const auto state = static_cast<ReservationState>(i);
    EXPECT_STREQ(to_string(state), names[i]);
    ASSERT_TRUE(parse_reservation_state(names[i]).has_value()) << names[i];
    EXPECT_EQ(*parse_reservation_state(names[i]), state);
  }
  EXPECT_FALSE(parse_reservation_state("canceled").has_value());
  EXPECT_FALSE(parse_reservation_state("").has_value());
}

TEST(UuidText, IsLowercaseHyphenated) {
  Uuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  EXPECT_EQ(to_string(id), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
  EXPECT_EQ(to_string(Uuid{}), "00000000-0000-0000-0000-000000000000");
}

TEST(UuidCompare, OrdersByBytes) {
  Uuid a, b;
  a.bytes[0] = 1;
  b.bytes[15] = 9;
  EXPECT_TRUE(b < a);
  EXPECT_FALSE(a < b);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, a);
}

TEST(WalletStateAvailable, IsBalanceMinusReserved) {
  WalletState w;
  w.balance = 100;
  w.reserved = 30;
  EXPECT_EQ(w.available(), 70);
}

}  // namespace
}  // namespace baseledger::core
