// Read-side views: balances net of lapsed holds, and the state a reader sees
// for a reservation at a given time.
#include <limits>

#include <gtest/gtest.h>

#include "core/views.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {
namespace {

WalletState wallet(Amount balance, Amount reserved, std::int64_t active) {
  WalletState w;
  w.balance = balance;
  w.reserved = reserved;
  w.active_reservations = active;
  w.last_seq = 9;
  w.last_at = 1000;
  return w;
}

TEST(BalanceView, WithoutLapsedHoldsMirrorsTheProjection) {
  const BalanceView v = balance_view(wallet(1000, 300, 2), 0, 0);
  EXPECT_EQ(v.balance, 1000);
  EXPECT_EQ(v.reserved, 300);
  EXPECT_EQ(v.available, 700);
  EXPECT_EQ(v.active_reservations, 2);
}

TEST(BalanceView, SubtractsLapsedHolds) {
  // Two holds (100 and 200); the 200 one lapsed but was not swept yet.
  const BalanceView v = balance_view(wallet(1000, 300, 2), 200, 1);
  EXPECT_EQ(v.balance, 1000);
  EXPECT_EQ(v.reserved, 100);
  EXPECT_EQ(v.available, 900);
  EXPECT_EQ(v.active_reservations, 1);
}

TEST(BalanceView, AllHoldsLapsed) {
  const BalanceView v = balance_view(wallet(50, 50, 3), 50, 3);
  EXPECT_EQ(v.reserved, 0);
  EXPECT_EQ(v.available, 50);
  EXPECT_EQ(v.active_reservations, 0);
}

TEST(BalanceView, OverflowIs22003) {
  EXPECT_SQLSTATE(balance_view(wallet(0, std::numeric_limits<Amount>::min(), 0), 1, 0),
                  sqlstate::numeric_value_out_of_range);
}

Reservation hold(ReservationState state, Micros expires_at) {
  Reservation r;
  r.id.bytes[15] = 1;
  r.amount = 100;
  r.state = state;
  r.expires_at = expires_at;
  return r;
}

TEST(EffectiveState, ActiveBeforeExpiry) {
  EXPECT_EQ(effective_state(hold(ReservationState::active, 1000), 999), ReservationState::active);
  EXPECT_EQ(effective_state(hold(ReservationState::active, 1000), 0), ReservationState::active);
}

TEST(EffectiveState, ActiveIsExpiredAtAndAfterExpiry) {
  EXPECT_EQ(effective_state(hold(ReservationState::active, 1000), 1000), ReservationState::expired);
  EXPECT_EQ(effective_state(hold(ReservationState::active, 1000), 1001), ReservationState::expired);
  EXPECT_EQ(effective_state(hold(ReservationState::active, 1000), 1000000000),
            ReservationState::expired);
}

TEST(EffectiveState, ClosedStatesAreKeptAfterExpiry) {
  for (ReservationState s :
       {ReservationState::settled, ReservationState::cancelled, ReservationState::expired}) {
    EXPECT_EQ(effective_state(hold(s, 1000), 999), s) << to_string(s);
    EXPECT_EQ(effective_state(hold(s, 1000), 1000), s) << to_string(s);
    EXPECT_EQ(effective_state(hold(s, 1000), 5000), s) << to_string(s);
  }
}

TEST(Reservation, LapsedAtOnlyForActiveHoldsAtOrAfterExpiry) {
  EXPECT_FALSE(hold(ReservationState::active, 1000).lapsed_at(999));
  EXPECT_TRUE(hold(ReservationState::active, 1000).lapsed_at(1000));
  EXPECT_FALSE(hold(ReservationState::settled, 1000).lapsed_at(1000));
  EXPECT_FALSE(hold(ReservationState::cancelled, 1000).lapsed_at(2000));
  EXPECT_FALSE(hold(ReservationState::expired, 1000).lapsed_at(2000));
}

}  // namespace
}  // namespace baseledger::core
