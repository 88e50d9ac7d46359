// Sequencing of batch elements (apply_element): each element is decided on the
// state the earlier elements of its wallet left; a refused element writes
// nothing and the next ones go on; keys replay within the batch and from
// storage; due holds are expired by the first element that succeeds; each
// written event is mapped to its element, and each written reservation says
// whether the batch inserted it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/batch.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"

namespace baseledger::core {
namespace {

constexpr Micros kT = 1000000000;  // the batch's clock reading
constexpr Micros kTtl = 30000000;  // 30 s

Uuid uuid_of(std::uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

// A wallet at the start of a batch: its projection row and nothing loaded yet.
BatchWallet batch_wallet(Amount balance, Amount reserved = 0, std::int64_t active = 0,
                         std::int64_t last_seq = 0, std::optional<Micros> last_at = std::nullopt) {
  BatchWallet w;
  w.state.balance = balance;
  w.state.reserved = reserved;
  w.state.active_reservations = active;
  w.state.last_seq = last_seq;
  w.state.last_at = last_at;
  return w;
}

// An active hold as storage returns it, created kTtl before it expires.
Reservation hold(std::uint8_t id, Amount amount, Micros expires_at) {
  Reservation r;
  r.id = uuid_of(id);
  r.amount = amount;
  r.state = ReservationState::active;
  r.expires_at = expires_at;
  r.created_at = r.updated_at = expires_at - kTtl;
  return r;
}

// Adds a hold that has lapsed at the batch's clock, as the due query loads it.
void add_due(BatchWallet& w, const Reservation& r) {
  w.due.push_back(r);
  w.reservations[r.id] = r;
}

// Adds a hold a settle names, as the target query loads it.
void add_target(BatchWallet& w, const Reservation& r) {
  w.reservations[r.id] = r;
}

Command reserve(Amount amount, Micros ttl = kTtl) {
  Command c;
  c.kind = EventKind::reserve;
  c.amount = amount;
  c.ttl = ttl;
  return c;
}

Command settle(const Uuid& id, Amount capture) {
  Command c;
  c.kind = EventKind::settle;
  c.amount = capture;
  c.reservation_id = id;
  return c;
}

Command with_metadata(Command c, std::string metadata) {
  c.metadata = std::move(metadata);
  return c;
}

// Applies one element at the batch's clock; a reserve gets id 100 + element.
ElementOutcome apply(BatchWallet& w, int element, const std::string& key, const Command& c,
                     Micros clock = kT) {
  return apply_element(w, element, key, c, fingerprint(c), clock,
                       uuid_of(static_cast<std::uint8_t>(100 + element)));
}

void expect_refused(const ElementOutcome& out, const char* code) {
  EXPECT_STREQ(out.sqlstate, code) << out.message;
  EXPECT_FALSE(out.message.empty());
  EXPECT_FALSE(out.replayed);
}

void expect_ok(const ElementOutcome& out) {
  EXPECT_STREQ(out.sqlstate, "00000") << out.message;
  EXPECT_TRUE(out.message.empty());
}

// Everything an element's result shows, compared field by field.
void expect_same_event(const Event& a, const Event& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.amount, b.amount);
  EXPECT_EQ(a.reservation_id, b.reservation_id);
  EXPECT_EQ(a.balance, b.balance);
  EXPECT_EQ(a.reserved, b.reserved);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.at, b.at);
}

// The wallet's owed writes did not change.
void expect_nothing_written(const BatchWallet& before, const BatchWallet& after) {
  EXPECT_EQ(after.events.size(), before.events.size());
  EXPECT_EQ(after.event_elements, before.event_elements);
  EXPECT_EQ(after.changed_reservations, before.changed_reservations);
  EXPECT_EQ(after.state.balance, before.state.balance);
  EXPECT_EQ(after.state.reserved, before.state.reserved);
  EXPECT_EQ(after.state.active_reservations, before.state.active_reservations);
  EXPECT_EQ(after.state.last_seq, before.state.last_seq);
  EXPECT_EQ(after.state.last_at, before.state.last_at);
  EXPECT_EQ(after.due.size(), before.due.size());
}

// ---- sequencing on the running state ----

TEST(BatchSequencing, EachElementStartsFromTheStateTheEarlierOnesLeft) {
  BatchWallet w = batch_wallet(100, 0, 0, 7, kT - 50);
  const ElementOutcome a = apply(w, 0, "a", reserve(30));
  const ElementOutcome b = apply(w, 1, "b", reserve(50));
  expect_ok(a);
  expect_ok(b);
  EXPECT_FALSE(a.replayed);
  EXPECT_FALSE(b.replayed);

  EXPECT_EQ(a.event.seq, 8);
  EXPECT_EQ(a.event.kind, EventKind::reserve);
  EXPECT_EQ(a.event.amount, 30);
  EXPECT_EQ(a.event.reservation_id, uuid_of(100));
  EXPECT_EQ(a.event.balance, 100);
  EXPECT_EQ(a.event.reserved, 30);
  EXPECT_EQ(a.event.at, kT);
  EXPECT_EQ(a.event.expires_at, kT + kTtl);

  EXPECT_EQ(b.event.seq, 9);
  EXPECT_EQ(b.event.reservation_id, uuid_of(101));
  EXPECT_EQ(b.event.reserved, 80);
  // One clock reading for the whole batch: `at` still strictly increases.
  EXPECT_EQ(b.event.at, kT + 1);
  EXPECT_EQ(b.event.expires_at, kT + 1 + kTtl);

  EXPECT_EQ(w.state.balance, 100);
  EXPECT_EQ(w.state.reserved, 80);
  EXPECT_EQ(w.state.active_reservations, 2);
  EXPECT_EQ(w.state.last_seq, 9);
  EXPECT_EQ(w.state.last_at, kT + 1);
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.event_elements, (std::vector<int>{0, 1}));
}

TEST(BatchSequencing, TheElementThatNoLongerFitsFailsAndSmallerLaterOnesSucceed) {
  BatchWallet w = batch_wallet(100);
  const ElementOutcome e0 = apply(w, 0, "k0", reserve(60));
  const ElementOutcome e1 = apply(w, 1, "k1", reserve(50));  // 40 left
  const ElementOutcome e2 = apply(w, 2, "k2", reserve(40));  // exactly what is left
  const ElementOutcome e3 = apply(w, 3, "k3", reserve(1));   // nothing left
  expect_ok(e0);
  expect_refused(e1, sqlstate::insufficient_funds);
  expect_ok(e2);
  expect_refused(e3, sqlstate::insufficient_funds);
  EXPECT_EQ(e1.message, "insufficient funds");

  // The refused element took no seq: element 2 follows element 0 directly.
  EXPECT_EQ(e0.event.seq, 1);
  EXPECT_EQ(e2.event.seq, 2);
  EXPECT_EQ(e2.event.at, e0.event.at + 1);
  EXPECT_EQ(e2.event.balance, 100);
  EXPECT_EQ(e2.event.reserved, 100);

  EXPECT_EQ(w.event_elements, (std::vector<int>{0, 2}));
  EXPECT_EQ(w.changed_reservations,
            (std::map<Uuid, bool>{{uuid_of(100), true}, {uuid_of(102), true}}));
  EXPECT_EQ(w.state.reserved, 100);
  EXPECT_EQ(w.state.available(), 0);
  EXPECT_EQ(w.state.last_seq, 2);
  // A refused element's key is not remembered.
  EXPECT_EQ(w.keys.count("k1"), 0u);
  EXPECT_EQ(w.keys.count("k3"), 0u);
}

TEST(BatchSequencing, EventTimesStepPastALastEventAheadOfTheClock) {
  BatchWallet w = batch_wallet(100, 0, 0, 3, kT + 500);
  const ElementOutcome a = apply(w, 0, "a", reserve(10));
  const ElementOutcome b = apply(w, 1, "b", reserve(10));
  EXPECT_EQ(a.event.at, kT + 501);
  EXPECT_EQ(b.event.at, kT + 502);
  EXPECT_EQ(a.event.expires_at, kT + 501 + kTtl);
}

TEST(BatchSequencing, WalletsAreIndependent) {
  BatchWallet x = batch_wallet(50);
  BatchWallet y = batch_wallet(50);
  expect_ok(apply(x, 0, "same-key", reserve(50)));
  // The same key in another wallet is another request.
  const ElementOutcome other = apply(y, 1, "same-key", reserve(20));
  expect_ok(other);
  EXPECT_FALSE(other.replayed);
  EXPECT_EQ(other.event.seq, 1);
  expect_ok(apply(y, 2, "more", reserve(30)));
  EXPECT_EQ(x.event_elements, (std::vector<int>{0}));
  EXPECT_EQ(y.event_elements, (std::vector<int>{1, 2}));
}

// ---- idempotency keys within the batch ----

TEST(BatchKeys, TheSameKeyTwiceReplaysTheFirstElement) {
  BatchWallet w = batch_wallet(100);
  const ElementOutcome first = apply(w, 0, "job", reserve(30));
  expect_ok(apply(w, 1, "other", reserve(20)));
  const BatchWallet before = w;
  const ElementOutcome again = apply(w, 2, "job", reserve(30));
  expect_ok(again);
  EXPECT_TRUE(again.replayed);
  // The original result, with the balances as they were then, not a new hold.
  expect_same_event(again.event, first.event);
  EXPECT_EQ(again.event.reservation_id, uuid_of(100));
  EXPECT_EQ(again.event.reserved, 30);
  expect_nothing_written(before, w);
}

TEST(BatchKeys, TheSameKeyWithOtherArgumentsIsAConflict) {
  BatchWallet w = batch_wallet(100);
  expect_ok(apply(w, 0, "job", reserve(30)));
  const BatchWallet before = w;
  expect_refused(apply(w, 1, "job", reserve(31)), sqlstate::idempotency_conflict);
  expect_refused(apply(w, 2, "job", reserve(30, kTtl + 1)), sqlstate::idempotency_conflict);
  expect_refused(apply(w, 3, "job", with_metadata(reserve(30), R"({"a": 1})")),
                 sqlstate::idempotency_conflict);
  expect_refused(apply(w, 4, "job", settle(uuid_of(100), 30)), sqlstate::idempotency_conflict);
  expect_nothing_written(before, w);
  // The conflict does not disturb the original: a true retry still replays.
  const ElementOutcome retry = apply(w, 5, "job", reserve(30));
  expect_ok(retry);
  EXPECT_TRUE(retry.replayed);
}

TEST(BatchKeys, AKeyWhoseFirstElementWasRefusedIsDecidedAfresh) {
  BatchWallet w = batch_wallet(100);
  expect_refused(apply(w, 0, "job", reserve(500)), sqlstate::insufficient_funds);
  // The refusal left no trace: other arguments under the key are no conflict.
  const ElementOutcome fresh = apply(w, 1, "job", reserve(40));
  expect_ok(fresh);
  EXPECT_FALSE(fresh.replayed);
  EXPECT_EQ(fresh.event.seq, 1);
  const ElementOutcome replay = apply(w, 2, "job", reserve(40));
  expect_ok(replay);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.event.seq, 1);
  EXPECT_EQ(w.event_elements, (std::vector<int>{1}));
}

TEST(BatchKeys, AStoredKeyReplaysItsEventAndWritesNothing) {
  // The wallet's seq 3 was a reserve of 40 under "job", since settled.
  BatchWallet w = batch_wallet(60, 0, 0, 5, kT - 1000);
  Event stored;
  stored.seq = 3;
  stored.kind = EventKind::reserve;
  stored.amount = 40;
  stored.reservation_id = uuid_of(7);
  stored.balance = 100;
  stored.reserved = 40;
  stored.expires_at = kT - 5000 + kTtl;
  stored.at = kT - 5000;
  stored.from_command = true;
  w.keys["job"] = KnownKey{stored, fingerprint(reserve(40))};
  // A lapsed hold is due: a replay must not expire it.
  add_due(w, hold(8, 10, kT - 1));
  w.state.reserved = 10;
  w.state.active_reservations = 1;

  const BatchWallet before = w;
  const ElementOutcome out = apply(w, 0, "job", reserve(40));
  expect_ok(out);
  EXPECT_TRUE(out.replayed);
  expect_same_event(out.event, stored);
  expect_nothing_written(before, w);
  ASSERT_EQ(w.due.size(), 1u);

  // Other arguments under the stored key: LB007, nothing written.
  expect_refused(apply(w, 1, "job", reserve(41)), sqlstate::idempotency_conflict);
  expect_nothing_written(before, w);

  // The next element that writes expires the due hold first.
  const ElementOutcome next = apply(w, 2, "new", reserve(60));
  expect_ok(next);
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.events[0].kind, EventKind::expire);
  EXPECT_EQ(w.events[0].seq, 6);
  EXPECT_EQ(w.events[1].seq, 7);
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, 2}));
}

// ---- due holds ----

TEST(BatchDue, TheFirstSuccessfulElementExpiresTheDueHolds) {
  // 100 in the wallet, two lapsed holds (20 and 10) not yet expired by an event.
  BatchWallet w = batch_wallet(100, 30, 2, 4, kT - 100);
  add_due(w, hold(2, 10, kT - 5));
  add_due(w, hold(1, 20, kT - 10));

  // 100 fits only because the lapsed holds no longer count.
  const ElementOutcome e0 = apply(w, 0, "k0", reserve(100));
  expect_ok(e0);
  ASSERT_EQ(w.events.size(), 3u);
  // In expiry order (earliest first), then the element's event.
  EXPECT_EQ(w.events[0].kind, EventKind::expire);
  EXPECT_EQ(w.events[0].reservation_id, uuid_of(1));
  EXPECT_EQ(w.events[0].amount, 20);
  EXPECT_EQ(w.events[0].seq, 5);
  EXPECT_EQ(w.events[0].reserved, 10);
  EXPECT_FALSE(w.events[0].from_command);
  EXPECT_EQ(w.events[1].kind, EventKind::expire);
  EXPECT_EQ(w.events[1].reservation_id, uuid_of(2));
  EXPECT_EQ(w.events[1].seq, 6);
  EXPECT_EQ(w.events[1].reserved, 0);
  EXPECT_EQ(w.events[2].kind, EventKind::reserve);
  EXPECT_EQ(w.events[2].seq, 7);
  EXPECT_TRUE(w.events[2].from_command);
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, -1, 0}));
  EXPECT_TRUE(w.events[0].at < w.events[1].at && w.events[1].at < w.events[2].at);
  // The element's result is its own event, after the expiries.
  EXPECT_EQ(e0.event.seq, 7);
  EXPECT_EQ(e0.event.reserved, 100);
  EXPECT_TRUE(w.due.empty());
  EXPECT_EQ(w.reservations.at(uuid_of(1)).state, ReservationState::expired);
  EXPECT_EQ(w.reservations.at(uuid_of(2)).state, ReservationState::expired);

  // Later elements write no second expire event.
  expect_refused(apply(w, 1, "k1", reserve(1)), sqlstate::insufficient_funds);
  EXPECT_EQ(w.events.size(), 3u);
  EXPECT_EQ(w.state.active_reservations, 1);
  EXPECT_EQ(w.state.last_seq, 7);
}

TEST(BatchDue, WhenTheFirstElementFailsTheNextSuccessfulOneExpiresThem) {
  BatchWallet w = batch_wallet(100, 30, 2, 4, kT - 100);
  add_due(w, hold(1, 20, kT - 10));
  add_due(w, hold(2, 10, kT - 5));
  const BatchWallet before = w;

  // Even with the holds released, 200 does not fit: nothing is written, and
  // the holds stay due.
  expect_refused(apply(w, 0, "k0", reserve(200)), sqlstate::insufficient_funds);
  expect_refused(apply(w, 1, "k1", settle(uuid_of(99), 1)), sqlstate::reservation_not_found);
  expect_nothing_written(before, w);
  EXPECT_EQ(w.due.size(), 2u);

  const ElementOutcome e2 = apply(w, 2, "k2", reserve(70));
  expect_ok(e2);
  ASSERT_EQ(w.events.size(), 3u);
  EXPECT_EQ(w.events[0].kind, EventKind::expire);
  EXPECT_EQ(w.events[1].kind, EventKind::expire);
  EXPECT_EQ(w.events[2].kind, EventKind::reserve);
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, -1, 2}));
  EXPECT_EQ(e2.event.seq, 7);
  EXPECT_EQ(e2.event.reserved, 70);
  EXPECT_TRUE(w.due.empty());
  EXPECT_EQ(w.changed_reservations,
            (std::map<Uuid, bool>{{uuid_of(1), false}, {uuid_of(2), false}, {uuid_of(102), true}}));

  expect_ok(apply(w, 3, "k3", reserve(30)));
  EXPECT_EQ(w.events.size(), 4u);
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, -1, 2, 3}));
}

TEST(BatchDue, ARefusedFirstSettleOfADueHoldLeavesItForTheNextElement) {
  // The settle's target lapsed: LB005 and no expire event from the refusal.
  BatchWallet w = batch_wallet(100, 20, 1, 2, kT - 100);
  add_due(w, hold(1, 20, kT - 10));
  const BatchWallet before = w;
  expect_refused(apply(w, 0, "s0", settle(uuid_of(1), 5)), sqlstate::reservation_expired);
  expect_nothing_written(before, w);

  expect_ok(apply(w, 1, "r1", reserve(100)));
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.events[0].kind, EventKind::expire);
  EXPECT_EQ(w.events[0].reservation_id, uuid_of(1));
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, 1}));

  // Once expired by an event the hold is still expired, not closed otherwise.
  expect_refused(apply(w, 2, "s2", settle(uuid_of(1), 5)), sqlstate::reservation_expired);
  EXPECT_EQ(w.events.size(), 2u);
}

// ---- settle ----

TEST(BatchSettle, AHoldCreatedEarlierSettlesAndADueHoldIsExpired) {
  BatchWallet w = batch_wallet(100, 45, 2, 3, kT - 100);
  add_target(w, hold(1, 40, kT + kTtl));  // active, created before the batch
  add_due(w, hold(2, 5, kT - 1));         // lapsed

  const ElementOutcome s0 = apply(w, 0, "s0", settle(uuid_of(1), 25));
  expect_ok(s0);
  ASSERT_EQ(w.events.size(), 2u);  // expire of hold 2, then the settle
  EXPECT_EQ(w.events[0].kind, EventKind::expire);
  EXPECT_EQ(s0.event.kind, EventKind::settle);
  EXPECT_EQ(s0.event.seq, 5);
  EXPECT_EQ(s0.event.amount, 25);
  EXPECT_EQ(s0.event.reservation_id, uuid_of(1));
  EXPECT_EQ(s0.event.balance, 75);
  EXPECT_EQ(s0.event.reserved, 0);
  EXPECT_EQ(w.reservations.at(uuid_of(1)).state, ReservationState::settled);
  EXPECT_EQ(w.reservations.at(uuid_of(1)).captured, 25);

  const ElementOutcome s1 = apply(w, 1, "s1", settle(uuid_of(2), 5));
  expect_refused(s1, sqlstate::reservation_expired);
  EXPECT_EQ(s1.message, "reservation expired");
  expect_refused(apply(w, 2, "s2", settle(uuid_of(1), 25)), sqlstate::reservation_closed);
  expect_refused(apply(w, 3, "s3", settle(uuid_of(77), 1)), sqlstate::reservation_not_found);

  EXPECT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.event_elements, (std::vector<int>{-1, 0}));
  // Both were stored before the batch: updated, not inserted.
  EXPECT_EQ(w.changed_reservations,
            (std::map<Uuid, bool>{{uuid_of(1), false}, {uuid_of(2), false}}));
  EXPECT_EQ(w.state.balance, 75);
  EXPECT_EQ(w.state.reserved, 0);
  EXPECT_EQ(w.state.active_reservations, 0);
}

TEST(BatchSettle, ASettleAfterAnotherElementIsJudgedOnTheRunningState) {
  BatchWallet w = batch_wallet(100, 30, 1, 1, kT - 100);
  add_target(w, hold(1, 30, kT + kTtl));
  expect_refused(apply(w, 0, "big", settle(uuid_of(1), 31)), sqlstate::capture_exceeds_hold);
  const ElementOutcome ok = apply(w, 1, "exact", settle(uuid_of(1), 30));
  expect_ok(ok);
  EXPECT_EQ(ok.event.seq, 2);
  EXPECT_EQ(ok.event.balance, 70);
  // The same key replays the settle instead of failing on the closed hold.
  const ElementOutcome again = apply(w, 2, "exact", settle(uuid_of(1), 30));
  expect_ok(again);
  EXPECT_TRUE(again.replayed);
  expect_same_event(again.event, ok.event);
  // A new key finds it closed.
  expect_refused(apply(w, 3, "later", settle(uuid_of(1), 0)), sqlstate::reservation_closed);
  EXPECT_EQ(w.event_elements, (std::vector<int>{1}));
}

TEST(BatchSettle, AHoldReservedAndSettledInOneBatchIsStillAnInsert) {
  BatchWallet w = batch_wallet(100);
  const ElementOutcome r = apply(w, 0, "r", reserve(60));
  expect_ok(r);
  const ElementOutcome s = apply(w, 1, "s", settle(*r.event.reservation_id, 45));
  expect_ok(s);
  EXPECT_EQ(s.event.seq, 2);
  EXPECT_EQ(s.event.balance, 55);
  EXPECT_EQ(s.event.reserved, 0);
  EXPECT_EQ(w.changed_reservations, (std::map<Uuid, bool>{{uuid_of(100), true}}));
  const Reservation& row = w.reservations.at(uuid_of(100));
  EXPECT_EQ(row.state, ReservationState::settled);
  EXPECT_EQ(row.amount, 60);
  EXPECT_EQ(row.captured, 45);
  EXPECT_EQ(row.created_at, r.event.at);
  EXPECT_EQ(row.updated_at, s.event.at);
  EXPECT_EQ(w.event_elements, (std::vector<int>{0, 1}));
  // Released funds are there for the next element.
  expect_ok(apply(w, 2, "r2", reserve(55)));
}

}  // namespace
}  // namespace baseledger::core
