// The decision state machine: events, sequence numbers, time, snapshots and
// reservation rows of every command; refusals with their SQLSTATEs; expiry of
// due holds before the command.
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {

// Names parameterised commands in failure messages.
void PrintTo(const Command& c, std::ostream* os) {
  *os << to_string(c.kind) << " amount=" << c.amount << " ttl=" << c.ttl;
  if (c.reservation_id) *os << " reservation=" << to_string(*c.reservation_id);
}

namespace {

constexpr Micros kT = 1000000000;  // an arbitrary clock reading
constexpr Micros kTtl = 30000000;  // 30 s

Uuid uuid_of(std::uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

WalletState wallet(Amount balance, Amount reserved = 0, std::int64_t active = 0,
                   std::int64_t last_seq = 0, std::optional<Micros> last_at = std::nullopt) {
  WalletState w;
  w.balance = balance;
  w.reserved = reserved;
  w.active_reservations = active;
  w.last_seq = last_seq;
  w.last_at = last_at;
  return w;
}

Reservation hold(std::uint8_t id, Amount amount, Micros expires_at,
                 ReservationState state = ReservationState::active) {
  Reservation r;
  r.id = uuid_of(id);
  r.amount = amount;
  r.state = state;
  r.expires_at = expires_at;
  r.created_at = r.updated_at = expires_at - kTtl;
  return r;
}

Command credit(Amount amount) {
  Command c;
  c.kind = EventKind::credit;
  c.amount = amount;
  return c;
}

Command debit(Amount amount) {
  Command c;
  c.kind = EventKind::debit;
  c.amount = amount;
  return c;
}

Command reserve(Amount amount, Micros ttl = kTtl) {
  Command c;
  c.kind = EventKind::reserve;
  c.amount = amount;
  c.ttl = ttl;
  return c;
}

Command settle(std::uint8_t id, Amount capture) {
  Command c;
  c.kind = EventKind::settle;
  c.amount = capture;
  c.reservation_id = uuid_of(id);
  return c;
}

Command cancel(std::uint8_t id) {
  Command c;
  c.kind = EventKind::cancel;
  c.reservation_id = uuid_of(id);
  return c;
}

Command extend(std::uint8_t id, Micros ttl) {
  Command c;
  c.kind = EventKind::extend;
  c.ttl = ttl;
  c.reservation_id = uuid_of(id);
  return c;
}

WriteInput input(const WalletState& w, Micros clock) {
  WriteInput in;
  in.wallet = w;
  in.clock = clock;
  in.new_reservation_id = uuid_of(200);
  return in;
}

// ---- next_event_time ----

TEST(NextEventTime, FollowsTheClockOrStepsPastTheLastEvent) {
  EXPECT_EQ(next_event_time(wallet(0), kT), kT);
  EXPECT_EQ(next_event_time(wallet(0, 0, 0, 3, kT - 1), kT), kT);
  EXPECT_EQ(next_event_time(wallet(0, 0, 0, 3, kT), kT), kT + 1);
  EXPECT_EQ(next_event_time(wallet(0, 0, 0, 3, kT + 500), kT), kT + 501);
}

// ---- credit ----

TEST(DecideCredit, FirstEventOfAnEmptyWallet) {
  const Command c = credit(1000);
  const Decision d = decide(input(wallet(0), kT), &c);
  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.kind, EventKind::credit);
  EXPECT_EQ(e.amount, 1000);
  EXPECT_FALSE(e.reservation_id.has_value());
  EXPECT_FALSE(e.expires_at.has_value());
  EXPECT_EQ(e.balance, 1000);
  EXPECT_EQ(e.reserved, 0);
  EXPECT_EQ(e.at, kT);
  EXPECT_TRUE(e.from_command);

  EXPECT_EQ(d.wallet.balance, 1000);
  EXPECT_EQ(d.wallet.reserved, 0);
  EXPECT_EQ(d.wallet.active_reservations, 0);
  EXPECT_EQ(d.wallet.last_seq, 1);
  EXPECT_EQ(d.wallet.last_at, kT);
  EXPECT_TRUE(d.reservations.empty());
  EXPECT_TRUE(d.reservation_is_new.empty());
}

TEST(DecideCredit, ContinuesTheSequence) {
  const Command c = credit(5);
  const Decision d = decide(input(wallet(100, 40, 1, 41, kT - 10), kT), &c);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].seq, 42);
  EXPECT_EQ(d.events[0].balance, 105);
  EXPECT_EQ(d.events[0].reserved, 40);
  EXPECT_EQ(d.wallet.last_seq, 42);
  EXPECT_EQ(d.wallet.balance, 105);
  EXPECT_EQ(d.wallet.reserved, 40);
  EXPECT_EQ(d.wallet.active_reservations, 1);
  EXPECT_EQ(d.wallet.available(), 65);
}

TEST(DecideCredit, OverflowIs22003) {
  const Amount max = std::numeric_limits<Amount>::max();
  const Command one = credit(1);
  EXPECT_SQLSTATE(decide(input(wallet(max), kT), &one), sqlstate::numeric_value_out_of_range);
  const Command big = credit(max);
  EXPECT_SQLSTATE(decide(input(wallet(1), kT), &big), sqlstate::numeric_value_out_of_range);

  const Command fits = credit(5);
  const Decision d = decide(input(wallet(max - 5), kT), &fits);
  EXPECT_EQ(d.wallet.balance, max);
}

// ---- debit ----

TEST(DecideDebit, SpendsAvailableFunds) {
  const Command c = debit(30);
  const Decision d = decide(input(wallet(100, 20, 1, 7, kT - 1), kT), &c);
  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 8);
  EXPECT_EQ(e.kind, EventKind::debit);
  EXPECT_EQ(e.amount, 30);
  EXPECT_EQ(e.balance, 70);
  EXPECT_EQ(e.reserved, 20);
  EXPECT_FALSE(e.reservation_id.has_value());
  EXPECT_TRUE(e.from_command);
  EXPECT_EQ(d.wallet.balance, 70);
  EXPECT_EQ(d.wallet.reserved, 20);
  EXPECT_TRUE(d.reservations.empty());
}

TEST(DecideDebit, ExactlyTheAvailableAmountSucceeds) {
  const Command c = debit(80);
  const Decision d = decide(input(wallet(100, 20, 1), kT), &c);
  EXPECT_EQ(d.wallet.balance, 20);
  EXPECT_EQ(d.wallet.available(), 0);
}

TEST(DecideDebit, OneMoreThanAvailableIsLB001) {
  const Command c = debit(81);
  EXPECT_SQLSTATE(decide(input(wallet(100, 20, 1), kT), &c), sqlstate::insufficient_funds);
}

TEST(DecideDebit, ReservedFundsAreNotSpendable) {
  const Command c = debit(1);
  EXPECT_SQLSTATE(decide(input(wallet(100, 100, 1), kT), &c), sqlstate::insufficient_funds);
  EXPECT_SQLSTATE(decide(input(wallet(0), kT), &c), sqlstate::insufficient_funds);
}

// ---- reserve ----

TEST(DecideReserve, HoldsFundsAndWritesANewReservation) {
  const Command c = reserve(60, kTtl);
  WriteInput in = input(wallet(100, 10, 1, 3, kT - 5), kT);
  in.new_reservation_id = uuid_of(77);
  const Decision d = decide(in, &c);

  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 4);
  EXPECT_EQ(e.kind, EventKind::reserve);
  EXPECT_EQ(e.amount, 60);
  EXPECT_EQ(e.reservation_id, uuid_of(77));
  EXPECT_EQ(e.at, kT);
  ASSERT_TRUE(e.expires_at.has_value());
  EXPECT_EQ(*e.expires_at, kT + kTtl);
  EXPECT_EQ(e.balance, 100);
  EXPECT_EQ(e.reserved, 70);
  EXPECT_TRUE(e.from_command);

  ASSERT_EQ(d.reservations.size(), 1u);
  ASSERT_EQ(d.reservation_is_new.size(), 1u);
  EXPECT_TRUE(d.reservation_is_new[0]);
  const Reservation& r = d.reservations[0];
  EXPECT_EQ(r.id, uuid_of(77));
  EXPECT_EQ(r.amount, 60);
  EXPECT_EQ(r.captured, 0);
  EXPECT_EQ(r.state, ReservationState::active);
  EXPECT_EQ(r.expires_at, kT + kTtl);
  EXPECT_EQ(r.created_at, kT);
  EXPECT_EQ(r.updated_at, kT);

  EXPECT_EQ(d.wallet.balance, 100);
  EXPECT_EQ(d.wallet.reserved, 70);
  EXPECT_EQ(d.wallet.active_reservations, 2);
  EXPECT_EQ(d.wallet.available(), 30);
  EXPECT_EQ(d.wallet.last_seq, 4);
}

TEST(DecideReserve, ExactlyTheAvailableAmountSucceeds) {
  const Command c = reserve(90);
  const Decision d = decide(input(wallet(100, 10, 1), kT), &c);
  EXPECT_EQ(d.wallet.reserved, 100);
  EXPECT_EQ(d.wallet.available(), 0);
}

TEST(DecideReserve, OneMoreThanAvailableIsLB001) {
  const Command c = reserve(91);
  EXPECT_SQLSTATE(decide(input(wallet(100, 10, 1), kT), &c), sqlstate::insufficient_funds);
}

TEST(DecideReserve, ExpiresAtOverflowIs22003) {
  const Command c = reserve(1, std::numeric_limits<Micros>::max() - kT + 1);
  EXPECT_SQLSTATE(decide(input(wallet(100), kT), &c), sqlstate::numeric_value_out_of_range);
}

// ---- settle ----

TEST(DecideSettle, CapturesPartOfTheHoldAndReleasesTheRest) {
  const Command c = settle(5, 35);
  WriteInput in = input(wallet(100, 60, 2, 10, kT - 1), kT);
  in.target = hold(5, 50, kT + 1000);
  const Decision d = decide(in, &c);

  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 11);
  EXPECT_EQ(e.kind, EventKind::settle);
  EXPECT_EQ(e.amount, 35);
  EXPECT_EQ(e.reservation_id, uuid_of(5));
  EXPECT_FALSE(e.expires_at.has_value());
  EXPECT_EQ(e.balance, 65);
  EXPECT_EQ(e.reserved, 10);
  EXPECT_TRUE(e.from_command);

  ASSERT_EQ(d.reservations.size(), 1u);
  EXPECT_FALSE(d.reservation_is_new[0]);
  const Reservation& r = d.reservations[0];
  EXPECT_EQ(r.id, uuid_of(5));
  EXPECT_EQ(r.amount, 50);
  EXPECT_EQ(r.captured, 35);
  EXPECT_EQ(r.state, ReservationState::settled);
  EXPECT_EQ(r.updated_at, kT);
  EXPECT_EQ(r.expires_at, kT + 1000);

  EXPECT_EQ(d.wallet.balance, 65);
  EXPECT_EQ(d.wallet.reserved, 10);
  EXPECT_EQ(d.wallet.active_reservations, 1);
}

TEST(DecideSettle, CaptureOfTheWholeHold) {
  const Command c = settle(5, 50);
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT + 1000);
  const Decision d = decide(in, &c);
  EXPECT_EQ(d.wallet.balance, 50);
  EXPECT_EQ(d.wallet.reserved, 0);
  EXPECT_EQ(d.wallet.active_reservations, 0);
  EXPECT_EQ(d.reservations.at(0).captured, 50);
}

TEST(DecideSettle, CaptureAboveTheHoldIsLB006) {
  const Command c = settle(5, 51);
  WriteInput in = input(wallet(1000, 50, 1), kT);
  in.target = hold(5, 50, kT + 1000);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::capture_exceeds_hold);
}

TEST(DecideSettle, CaptureZeroReleasesEverything) {
  const Command c = settle(5, 0);
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT + 1000);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].kind, EventKind::settle);
  EXPECT_EQ(d.events[0].amount, 0);
  EXPECT_EQ(d.events[0].balance, 100);
  EXPECT_EQ(d.events[0].reserved, 0);
  EXPECT_EQ(d.wallet.balance, 100);
  EXPECT_EQ(d.wallet.reserved, 0);
  EXPECT_EQ(d.wallet.available(), 100);
  EXPECT_EQ(d.wallet.active_reservations, 0);
  EXPECT_EQ(d.reservations.at(0).state, ReservationState::settled);
  EXPECT_EQ(d.reservations.at(0).captured, 0);
}

// ---- cancel ----

TEST(DecideCancel, ReleasesTheWholeHold) {
  const Command c = cancel(5);
  WriteInput in = input(wallet(100, 70, 2, 4, kT - 1), kT);
  in.target = hold(5, 50, kT + 1000);
  const Decision d = decide(in, &c);

  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 5);
  EXPECT_EQ(e.kind, EventKind::cancel);
  EXPECT_EQ(e.amount, 50);
  EXPECT_EQ(e.reservation_id, uuid_of(5));
  EXPECT_EQ(e.balance, 100);
  EXPECT_EQ(e.reserved, 20);
  EXPECT_TRUE(e.from_command);

  ASSERT_EQ(d.reservations.size(), 1u);
  EXPECT_FALSE(d.reservation_is_new[0]);
  EXPECT_EQ(d.reservations[0].state, ReservationState::cancelled);
  EXPECT_EQ(d.reservations[0].captured, 0);
  EXPECT_EQ(d.reservations[0].updated_at, kT);

  EXPECT_EQ(d.wallet.balance, 100);
  EXPECT_EQ(d.wallet.reserved, 20);
  EXPECT_EQ(d.wallet.active_reservations, 1);
}

// ---- extend ----

TEST(DecideExtend, MovesExpiresAtToEventTimePlusTtl) {
  const Command c = extend(5, 2 * kTtl);
  WriteInput in = input(wallet(100, 50, 1, 4, kT - 1), kT);
  in.target = hold(5, 50, kT + 10);
  const Decision d = decide(in, &c);

  ASSERT_EQ(d.events.size(), 1u);
  const Event& e = d.events[0];
  EXPECT_EQ(e.seq, 5);
  EXPECT_EQ(e.kind, EventKind::extend);
  EXPECT_EQ(e.amount, 0);
  EXPECT_EQ(e.reservation_id, uuid_of(5));
  ASSERT_TRUE(e.expires_at.has_value());
  EXPECT_EQ(*e.expires_at, kT + 2 * kTtl);
  EXPECT_EQ(e.balance, 100);
  EXPECT_EQ(e.reserved, 50);
  EXPECT_TRUE(e.from_command);

  ASSERT_EQ(d.reservations.size(), 1u);
  EXPECT_FALSE(d.reservation_is_new[0]);
  const Reservation& r = d.reservations[0];
  EXPECT_EQ(r.state, ReservationState::active);
  EXPECT_EQ(r.amount, 50);
  EXPECT_EQ(r.expires_at, kT + 2 * kTtl);
  EXPECT_EQ(r.updated_at, kT);

  EXPECT_EQ(d.wallet.balance, 100);
  EXPECT_EQ(d.wallet.reserved, 50);
  EXPECT_EQ(d.wallet.active_reservations, 1);
  EXPECT_EQ(d.wallet.last_seq, 5);
}

TEST(DecideExtend, CanShortenTheHold) {
  // The new expires_at is at + ttl, not the old expires_at + ttl.
  const Command c = extend(5, 100);
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT + kTtl);
  const Decision d = decide(in, &c);
  EXPECT_EQ(d.reservations.at(0).expires_at, kT + 100);
}

// ---- refusals on the target of settle, cancel and extend ----

class TargetRefusal : public ::testing::TestWithParam<Command> {};

TEST_P(TargetRefusal, MissingTargetIsLB003) {
  const Command c = GetParam();
  EXPECT_SQLSTATE(decide(input(wallet(100, 50, 1), kT), &c), sqlstate::reservation_not_found);
}

TEST_P(TargetRefusal, SettledTargetIsLB004) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100), kT);
  in.target = hold(5, 50, kT + 1000, ReservationState::settled);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_closed);
}

TEST_P(TargetRefusal, CancelledTargetIsLB004) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100), kT);
  in.target = hold(5, 50, kT + 1000, ReservationState::cancelled);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_closed);
}

TEST_P(TargetRefusal, ClosedTargetPastItsExpiryIsStillLB004) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100), kT);
  in.target = hold(5, 50, kT - 1000, ReservationState::settled);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_closed);
}

TEST_P(TargetRefusal, ExpiredTargetIsLB005) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100), kT);
  in.target = hold(5, 50, kT - 1000, ReservationState::expired);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

TEST_P(TargetRefusal, ActiveTargetAtItsExpiryIsLB005) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

TEST_P(TargetRefusal, ActiveTargetPastItsExpiryIsLB005) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT - 1);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

TEST_P(TargetRefusal, LapseIsJudgedAtTheEventTimeWhenTheClockIsBehind) {
  // The clock reads kT but the last event is at kT + 100: the command's event
  // is at kT + 101, when a hold expiring at kT + 101 has lapsed.
  const Command c = GetParam();
  WriteInput in = input(wallet(100, 50, 1, 3, kT + 100), kT);
  in.target = hold(5, 50, kT + 101);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

TEST_P(TargetRefusal, LapseIsJudgedAtTheCommandEventAfterExpiries) {
  // Two due holds are expired at kT and kT + 1, so the command's event is at
  // kT + 2: a target expiring at kT + 2 has lapsed by then and must not be
  // settled, cancelled or extended.
  const Command c = GetParam();
  WriteInput in = input(wallet(100, 80, 3, 3, kT - 100), kT);
  in.due = {hold(1, 10, kT - 10), hold(2, 20, kT - 5)};
  in.target = hold(5, 50, kT + 2);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

TEST_P(TargetRefusal, ActiveTargetJustBeforeItsExpirySucceeds) {
  const Command c = GetParam();
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT + 1);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].kind, c.kind);
}

INSTANTIATE_TEST_SUITE_P(SettleCancelExtend, TargetRefusal,
                         ::testing::Values(settle(5, 10), cancel(5), extend(5, kTtl)),
                         [](const ::testing::TestParamInfo<Command>& info) {
                           return std::string(to_string(info.param.kind));
                         });

TEST(DecideCommand, ExpireIsNotAClientCommand) {
  Command c;
  c.kind = EventKind::expire;
  c.reservation_id = uuid_of(5);
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.target = hold(5, 50, kT + 1000);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::internal_error);
}

// ---- expiry of due holds ----

TEST(DecideExpiry, DueHoldsExpireFirstInExpiresAtOrder) {
  // Three due holds passed out of order; two share an expires_at (id breaks the tie).
  WriteInput in = input(wallet(1000, 360, 4, 20, kT - 1000), kT);
  in.due = {hold(9, 100, kT - 10), hold(3, 200, kT - 50), hold(4, 50, kT - 10)};
  const Command c = credit(1);
  const Decision d = decide(in, &c);

  ASSERT_EQ(d.events.size(), 4u);
  const Uuid order[] = {uuid_of(3), uuid_of(4), uuid_of(9)};
  const Amount amounts[] = {200, 50, 100};
  const Amount reserved_after[] = {160, 110, 10};
  for (int i = 0; i < 3; ++i) {
    const Event& e = d.events[i];
    EXPECT_EQ(e.kind, EventKind::expire) << i;
    EXPECT_EQ(e.seq, 21 + i) << i;
    EXPECT_EQ(e.at, kT + i) << i;
    EXPECT_EQ(e.reservation_id, order[i]) << i;
    EXPECT_EQ(e.amount, amounts[i]) << i;
    EXPECT_EQ(e.balance, 1000) << i;
    EXPECT_EQ(e.reserved, reserved_after[i]) << i;
    EXPECT_FALSE(e.expires_at.has_value()) << i;
    EXPECT_FALSE(e.from_command) << i;
  }
  const Event& last = d.events[3];
  EXPECT_EQ(last.kind, EventKind::credit);
  EXPECT_EQ(last.seq, 24);
  EXPECT_EQ(last.at, kT + 3);
  EXPECT_EQ(last.balance, 1001);
  EXPECT_EQ(last.reserved, 10);
  EXPECT_TRUE(last.from_command);

  ASSERT_EQ(d.reservations.size(), 3u);
  ASSERT_EQ(d.reservation_is_new.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.reservations[i].id, order[i]) << i;
    EXPECT_EQ(d.reservations[i].state, ReservationState::expired) << i;
    EXPECT_EQ(d.reservations[i].amount, amounts[i]) << i;
    EXPECT_EQ(d.reservations[i].captured, 0) << i;
    EXPECT_EQ(d.reservations[i].updated_at, kT + i) << i;
    EXPECT_FALSE(d.reservation_is_new[i]) << i;
  }

  EXPECT_EQ(d.wallet.balance, 1001);
  EXPECT_EQ(d.wallet.reserved, 10);
  EXPECT_EQ(d.wallet.active_reservations, 1);
  EXPECT_EQ(d.wallet.last_seq, 24);
  EXPECT_EQ(d.wallet.last_at, kT + 3);
}

TEST(DecideExpiry, ReleasedFundsServeTheSameCallsReserve) {
  WriteInput in = input(wallet(100, 100, 1, 2, kT - 100), kT);
  const Command c = reserve(100);

  // Without the due hold the funds are still held.
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::insufficient_funds);

  in.due = {hold(1, 100, kT - 1)};
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].kind, EventKind::expire);
  EXPECT_EQ(d.events[0].reserved, 0);
  EXPECT_EQ(d.events[1].kind, EventKind::reserve);
  EXPECT_EQ(d.events[1].at, kT + 1);
  EXPECT_EQ(*d.events[1].expires_at, kT + 1 + kTtl);
  EXPECT_EQ(d.events[1].reserved, 100);
  ASSERT_EQ(d.reservations.size(), 2u);
  EXPECT_FALSE(d.reservation_is_new[0]);
  EXPECT_EQ(d.reservations[0].state, ReservationState::expired);
  EXPECT_TRUE(d.reservation_is_new[1]);
  EXPECT_EQ(d.reservations[1].state, ReservationState::active);
  EXPECT_EQ(d.reservations[1].expires_at, kT + 1 + kTtl);
  EXPECT_EQ(d.wallet.reserved, 100);
  EXPECT_EQ(d.wallet.active_reservations, 1);
}

TEST(DecideExpiry, ReleasedFundsServeTheSameCallsDebit) {
  WriteInput in = input(wallet(100, 100, 1), kT);
  in.due = {hold(1, 100, kT)};  // expires exactly now
  const Command c = debit(100);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.wallet.balance, 0);
  EXPECT_EQ(d.wallet.reserved, 0);
}

TEST(DecideExpiry, HoldNotYetDueIsLeftAlone) {
  // Hold 1 is expired at kT and the credit written at kT + 1: hold 2, which
  // lapses at kT + 2, still counts.
  WriteInput in = input(wallet(100, 60, 2, 5, kT - 100), kT);
  in.due = {hold(1, 10, kT - 1), hold(2, 50, kT + 2)};
  const Command c = credit(1);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].reservation_id, uuid_of(1));
  EXPECT_EQ(d.events[1].kind, EventKind::credit);
  ASSERT_EQ(d.reservations.size(), 1u);
  EXPECT_EQ(d.reservations[0].id, uuid_of(1));
  EXPECT_EQ(d.wallet.reserved, 50);
  EXPECT_EQ(d.wallet.active_reservations, 1);
}

TEST(DecideExpiry, DueIsJudgedAtTheWriteTimeNotTheClock) {
  // The clock is behind the last event: the write time is kT + 101, so a hold
  // expiring at kT + 101 is due; the next event would be at kT + 102, so one
  // expiring at kT + 103 is not.
  WriteInput in = input(wallet(100, 30, 2, 5, kT + 100), kT);
  in.due = {hold(1, 10, kT + 101), hold(2, 20, kT + 103)};
  const Decision d = decide(in, nullptr);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reservation_id, uuid_of(1));
  EXPECT_EQ(d.events[0].at, kT + 101);
  EXPECT_EQ(d.wallet.reserved, 20);
}

TEST(DecideExpiry, HoldLapsingBeforeTheCommandEventNoLongerCounts) {
  // With the clock behind, events take last_at + 1 us each. Hold 1 lapses at
  // kT + 1 and is expired then; the debit's event would be at kT + 2, when
  // hold 2 has lapsed too: it is expired first, and the debit of everything
  // fits. (Before, hold 2 still counted and the debit got LB001.)
  WriteInput in = input(wallet(10, 10, 2, 2, kT), kT - 3600000000LL);
  in.due = {hold(1, 5, kT + 1), hold(2, 5, kT + 2)};
  const Command c = debit(10);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[0].kind, EventKind::expire);
  EXPECT_EQ(d.events[0].at, kT + 1);
  EXPECT_EQ(d.events[1].kind, EventKind::expire);
  EXPECT_EQ(d.events[1].at, kT + 2);
  EXPECT_EQ(d.events[2].kind, EventKind::debit);
  EXPECT_EQ(d.events[2].at, kT + 3);
  EXPECT_EQ(d.wallet.balance, 0);
  EXPECT_EQ(d.wallet.reserved, 0);
}

TEST(DecideExpiry, ClosedHoldsInTheDueListAreIgnored) {
  WriteInput in = input(wallet(100), kT);
  in.due = {hold(1, 10, kT - 1, ReservationState::settled),
            hold(2, 10, kT - 1, ReservationState::cancelled),
            hold(3, 10, kT - 1, ReservationState::expired)};
  const Decision d = decide(in, nullptr);
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(d.reservations.empty());
}

TEST(DecideExpiry, NullCommandOnlyExpires) {
  WriteInput in = input(wallet(100, 30, 2, 8, kT - 100), kT);
  in.due = {hold(2, 20, kT - 3), hold(1, 10, kT - 7)};
  const Decision d = decide(in, nullptr);
  ASSERT_EQ(d.events.size(), 2u);
  for (const Event& e : d.events) {
    EXPECT_EQ(e.kind, EventKind::expire);
    EXPECT_FALSE(e.from_command);
  }
  EXPECT_EQ(d.events[0].reservation_id, uuid_of(1));
  EXPECT_EQ(d.events[0].seq, 9);
  EXPECT_EQ(d.events[1].reservation_id, uuid_of(2));
  EXPECT_EQ(d.events[1].seq, 10);
  EXPECT_EQ(d.wallet.balance, 100);
  EXPECT_EQ(d.wallet.reserved, 0);
  EXPECT_EQ(d.wallet.active_reservations, 0);
  EXPECT_EQ(d.wallet.last_seq, 10);
  EXPECT_EQ(d.wallet.last_at, kT + 1);
}

TEST(DecideExpiry, NullCommandWithNothingDueChangesNothing) {
  const WalletState w = wallet(100, 30, 2, 8, kT - 100);
  const Decision d = decide(input(w, kT), nullptr);
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(d.reservations.empty());
  EXPECT_EQ(d.wallet.balance, w.balance);
  EXPECT_EQ(d.wallet.reserved, w.reserved);
  EXPECT_EQ(d.wallet.active_reservations, w.active_reservations);
  EXPECT_EQ(d.wallet.last_seq, w.last_seq);
  EXPECT_EQ(d.wallet.last_at, w.last_at);
}

TEST(DecideExpiry, SettlingAHoldThatIsDueIsLB005) {
  WriteInput in = input(wallet(100, 50, 1), kT);
  in.due = {hold(5, 50, kT - 1)};
  in.target = hold(5, 50, kT - 1);
  const Command c = settle(5, 10);
  EXPECT_SQLSTATE(decide(in, &c), sqlstate::reservation_expired);
}

// ---- monotonic time ----

TEST(DecideTime, ClockBehindTheLastEventStepsOneMicrosecond) {
  const Command c = credit(1);
  const Decision d = decide(input(wallet(0, 0, 0, 3, kT), kT - 5000), &c);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].at, kT + 1);
  EXPECT_EQ(d.wallet.last_at, kT + 1);
}

TEST(DecideTime, ClockEqualToTheLastEventStepsOneMicrosecond) {
  const Command c = credit(1);
  const Decision d = decide(input(wallet(0, 0, 0, 3, kT), kT), &c);
  EXPECT_EQ(d.events.at(0).at, kT + 1);
}

TEST(DecideTime, ClockAheadIsUsedAsIs) {
  const Command c = credit(1);
  const Decision d = decide(input(wallet(0, 0, 0, 3, kT - 5000), kT), &c);
  EXPECT_EQ(d.events.at(0).at, kT);
}

TEST(DecideTime, EveryEventOfACallBehindTheClockGetsItsOwnMicrosecond) {
  WriteInput in = input(wallet(100, 30, 2, 3, kT), kT - 5000);
  in.due = {hold(1, 10, kT - 7000), hold(2, 20, kT - 6000)};
  const Command c = reserve(50);
  const Decision d = decide(in, &c);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[0].at, kT + 1);
  EXPECT_EQ(d.events[1].at, kT + 2);
  EXPECT_EQ(d.events[2].at, kT + 3);
  EXPECT_EQ(d.events[0].seq, 4);
  EXPECT_EQ(d.events[1].seq, 5);
  EXPECT_EQ(d.events[2].seq, 6);
  EXPECT_EQ(*d.events[2].expires_at, kT + 3 + kTtl);
  EXPECT_EQ(d.reservations.at(2).created_at, kT + 3);
  EXPECT_EQ(d.wallet.last_at, kT + 3);
}

TEST(DecideTime, ExtendUsesTheSteppedEventTime) {
  WriteInput in = input(wallet(100, 50, 1, 3, kT), kT - 5000);
  in.target = hold(5, 50, kT + 1000);
  const Command c = extend(5, kTtl);
  const Decision d = decide(in, &c);
  EXPECT_EQ(d.events.at(0).at, kT + 1);
  EXPECT_EQ(*d.events.at(0).expires_at, kT + 1 + kTtl);
  EXPECT_EQ(d.reservations.at(0).expires_at, kT + 1 + kTtl);
}

// ---- input is not modified and calls are repeatable ----

TEST(DecidePurity, SameInputGivesSameDecision) {
  WriteInput in = input(wallet(100, 30, 2, 3, kT - 10), kT);
  in.due = {hold(2, 20, kT - 3), hold(1, 10, kT - 7)};
  const Command c = reserve(40);
  const Decision a = decide(in, &c);
  const Decision b = decide(in, &c);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].seq, b.events[i].seq);
    EXPECT_EQ(a.events[i].at, b.events[i].at);
    EXPECT_EQ(a.events[i].balance, b.events[i].balance);
    EXPECT_EQ(a.events[i].reserved, b.events[i].reserved);
  }
  // The due list keeps its caller's order.
  EXPECT_EQ(in.due[0].id, uuid_of(2));
  EXPECT_EQ(in.due[0].state, ReservationState::active);
}

}  // namespace
}  // namespace baseledger::core
