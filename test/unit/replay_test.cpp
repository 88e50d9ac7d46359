// Replay for ledger_verify: a history written by decide() replays cleanly
// against its stored projection and reservations; each kind of tampering with
// the events or the stored rows is reported.
#include <algorithm>
#include <map>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "core/replay.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {
namespace {

constexpr Micros kT = 1000000000;
constexpr Micros kTtl = 30000000;

Uuid uuid_of(std::uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

// A wallet as the storage layer keeps it: the projection row, the reservation
// rows and the event log, advanced only through decide().
class Ledger {
 public:
  // Runs one write call; returns the new reservation's id for a reserve.
  Uuid write(Micros clock, const Command* command) {
    WriteInput in;
    in.wallet = wallet_;
    in.clock = clock;
    in.new_reservation_id = uuid_of(next_id_++);
    const Micros now = next_event_time(wallet_, clock);
    for (const auto& [id, r] : rows_)
      if (r.state == ReservationState::active && r.expires_at <= now) in.due.push_back(r);
    if (command && command->reservation_id) {
      auto it = rows_.find(*command->reservation_id);
      if (it != rows_.end()) in.target = it->second;
    }
    const Decision d = decide(in, command);
    for (std::size_t i = 0; i < d.reservations.size(); ++i) {
      const Reservation& r = d.reservations[i];
      EXPECT_EQ(d.reservation_is_new[i], rows_.count(r.id) == 0) << to_string(r.id);
      rows_[r.id] = r;
    }
    events_.insert(events_.end(), d.events.begin(), d.events.end());
    wallet_ = d.wallet;
    return in.new_reservation_id;
  }

  Uuid credit(Micros clock, Amount amount) {
    return write(clock, command(EventKind::credit, amount));
  }
  Uuid debit(Micros clock, Amount amount) {
    return write(clock, command(EventKind::debit, amount));
  }
  Uuid reserve(Micros clock, Amount amount, Micros ttl) {
    Command* c = command(EventKind::reserve, amount);
    c->ttl = ttl;
    return write(clock, c);
  }
  void settle(Micros clock, const Uuid& id, Amount capture) {
    Command* c = command(EventKind::settle, capture);
    c->reservation_id = id;
    write(clock, c);
  }
  void cancel(Micros clock, const Uuid& id) {
    Command* c = command(EventKind::cancel, 0);
    c->reservation_id = id;
    write(clock, c);
  }
  void extend(Micros clock, const Uuid& id, Micros ttl) {
    Command* c = command(EventKind::extend, 0);
    c->reservation_id = id;
    c->ttl = ttl;
    write(clock, c);
  }
  void sweep(Micros clock) { write(clock, nullptr); }

  const WalletState& wallet() const { return wallet_; }
  const std::vector<Event>& events() const { return events_; }
  std::vector<Reservation> rows() const {
    std::vector<Reservation> out;
    for (const auto& [id, r] : rows_) out.push_back(r);
    return out;
  }

 private:
  Command* command(EventKind kind, Amount amount) {
    command_ = Command{};
    command_.kind = kind;
    command_.amount = amount;
    return &command_;
  }

  WalletState wallet_;
  std::map<Uuid, Reservation> rows_;
  std::vector<Event> events_;
  Command command_;
  std::uint8_t next_id_ = 1;
};

// A history that uses every command, expiry by a later write, a sweep, a clock
// that goes backwards and a settle of zero.
class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Micros t = kT;
    ledger_.credit(t += 10, 1000);
    ledger_.debit(t += 10, 100);
    settled_ = ledger_.reserve(t += 10, 300, kTtl);
    ledger_.settle(t += 10, settled_, 120);
    cancelled_ = ledger_.reserve(t += 10, 200, kTtl);
    ledger_.cancel(t += 10, cancelled_);
    extended_ = ledger_.reserve(t += 10, 100, 1000);
    ledger_.extend(t += 10, extended_, kTtl);
    expired_ = ledger_.reserve(t += 10, 250, 1000);
    // The clock steps back: events keep increasing.
    ledger_.credit(t - 500, 5);
    // The hold of 250 lapses; the next write expires it before its reserve.
    t += 5000;
    reserved_after_expiry_ = ledger_.reserve(t, 600, kTtl);
    zero_ = ledger_.reserve(t += 10, 10, 1000);
    ledger_.settle(t += 10, zero_, 0);
    swept_ = ledger_.reserve(t += 10, 20, 1000);
    ledger_.sweep(t += 5000);
    ledger_.settle(t += 10, extended_, 100);
  }

  // Index of the first event of the given kind (and reservation, if given).
  std::size_t find(EventKind kind, std::optional<Uuid> id = std::nullopt) const {
    const auto& ev = ledger_.events();
    for (std::size_t i = 0; i < ev.size(); ++i)
      if (ev[i].kind == kind && (!id || ev[i].reservation_id == id)) return i;
    ADD_FAILURE() << "no " << to_string(kind) << " event";
    return 0;
  }

  static std::vector<std::string> replay(const std::vector<Event>& events,
                                         const WalletState& stored,
                                         const std::vector<Reservation>& rows) {
    Replay r;
    for (const Event& e : events) r.apply(e);
    r.finish(stored, rows);
    return r.problems();
  }

  std::vector<std::string> replay_events(const std::vector<Event>& events) const {
    return replay(events, ledger_.wallet(), ledger_.rows());
  }

  static ::testing::AssertionResult has_problem(const std::vector<std::string>& problems,
                                                const std::string& text) {
    for (const auto& p : problems)
      if (p.find(text) != std::string::npos) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure()
                   << "no problem mentions \"" << text << "\"; got " << problems.size() << ":";
    for (const auto& p : problems) failure << "\n  " << p;
    return failure;
  }

  Ledger ledger_;
  Uuid settled_, cancelled_, extended_, expired_, reserved_after_expiry_, zero_, swept_;
};

TEST_F(ReplayTest, HistoryCoversEveryEventKind) {
  for (EventKind kind : {EventKind::credit, EventKind::debit, EventKind::reserve, EventKind::settle,
                         EventKind::cancel, EventKind::extend, EventKind::expire})
    EXPECT_TRUE(std::any_of(ledger_.events().begin(), ledger_.events().end(), [&](const Event& e) {
      return e.kind == kind;
    })) << to_string(kind);
  const auto rows = ledger_.rows();
  auto state_of = [&](const Uuid& id) {
    for (const auto& r : rows)
      if (r.id == id) return r.state;
    ADD_FAILURE() << "no row " << to_string(id);
    return ReservationState::active;
  };
  EXPECT_EQ(state_of(settled_), ReservationState::settled);
  EXPECT_EQ(state_of(cancelled_), ReservationState::cancelled);
  EXPECT_EQ(state_of(extended_), ReservationState::settled);
  EXPECT_EQ(state_of(expired_), ReservationState::expired);
  EXPECT_EQ(state_of(reserved_after_expiry_), ReservationState::active);
  EXPECT_EQ(state_of(zero_), ReservationState::settled);
  EXPECT_EQ(state_of(swept_), ReservationState::expired);
}

TEST_F(ReplayTest, CleanHistoryHasNoProblems) {
  Replay r;
  for (const Event& e : ledger_.events()) r.apply(e);
  r.finish(ledger_.wallet(), ledger_.rows());
  EXPECT_TRUE(r.problems().empty()) << r.problems().front();
  EXPECT_EQ(r.state().balance, ledger_.wallet().balance);
  EXPECT_EQ(r.state().reserved, ledger_.wallet().reserved);
  EXPECT_EQ(r.state().active_reservations, ledger_.wallet().active_reservations);
  EXPECT_EQ(r.state().last_seq, ledger_.wallet().last_seq);
  EXPECT_EQ(r.state().last_at, ledger_.wallet().last_at);
  // 1000 - 100 - 120 + 5 - 0 - 100
  EXPECT_EQ(ledger_.wallet().balance, 685);
  EXPECT_EQ(ledger_.wallet().reserved, 600);
  EXPECT_EQ(ledger_.wallet().active_reservations, 1);
}

TEST(ReplayOfDecisions, CommandRightAfterExpiriesStaysClean) {
  // Hold A expires at x and hold B at x + 1. A write at clock x expires A at x,
  // so its command's event is at x + 1, when B has lapsed too: decide() must
  // refuse to settle, cancel or extend B rather than record an event that
  // replay would flag.
  for (EventKind kind : {EventKind::settle, EventKind::cancel, EventKind::extend}) {
    Ledger ledger;
    ledger.credit(kT, 1000);
    const Uuid a = ledger.reserve(kT + 10, 100, 1000);  // expires at kT + 1010
    const Uuid b = ledger.reserve(kT + 20, 100, 991);   // expires at kT + 1011
    const Micros x = kT + 1010;
    Command c;
    c.kind = kind;
    c.reservation_id = b;
    c.ttl = kTtl;
    SCOPED_TRACE(to_string(kind));
    EXPECT_SQLSTATE(ledger.write(x, &c), sqlstate::reservation_expired);
    ledger.sweep(x + 5);

    Replay r;
    for (const Event& e : ledger.events()) r.apply(e);
    r.finish(ledger.wallet(), ledger.rows());
    EXPECT_TRUE(r.problems().empty()) << r.problems().front();
    for (const Reservation& row : ledger.rows()) {
      EXPECT_EQ(row.state, ReservationState::expired) << to_string(row.id);
      EXPECT_TRUE(row.id == a || row.id == b);
    }
  }
}

TEST(Replay, EmptyHistoryAgainstAnEmptyWalletIsClean) {
  Replay r;
  r.finish(WalletState{}, {});
  EXPECT_TRUE(r.problems().empty());
}

TEST_F(ReplayTest, SequenceGap) {
  auto ev = ledger_.events();
  ev.erase(ev.begin() + 1);  // drop the debit: seq 1, 3, ...
  EXPECT_TRUE(has_problem(replay_events(ev), "sequence gap"));

  ev = ledger_.events();
  for (std::size_t i = 3; i < ev.size(); ++i) ev[i].seq += 1;  // renumbered, snapshots intact
  EXPECT_TRUE(has_problem(replay_events(ev), "sequence gap"));
}

TEST_F(ReplayTest, TimeThatDoesNotIncrease) {
  auto ev = ledger_.events();
  ev[3].at = ev[2].at;
  EXPECT_TRUE(has_problem(replay_events(ev), "time does not increase"));

  ev = ledger_.events();
  ev[5].at = ev[4].at - 1;
  EXPECT_TRUE(has_problem(replay_events(ev), "time does not increase"));
}

TEST_F(ReplayTest, WrongBalanceSnapshot) {
  auto ev = ledger_.events();
  ev[1].balance += 1;
  EXPECT_TRUE(has_problem(replay_events(ev), "balance after the event"));
}

TEST_F(ReplayTest, WrongReservedSnapshot) {
  auto ev = ledger_.events();
  ev[find(EventKind::reserve)].reserved -= 1;
  EXPECT_TRUE(has_problem(replay_events(ev), "reserved after the event"));
}

TEST_F(ReplayTest, SettleAboveTheHold) {
  // An overage is legal, but a capture altered after the fact no longer
  // matches the balance the event recorded.
  auto ev = ledger_.events();
  const std::size_t i = find(EventKind::settle, settled_);
  ev[i].amount = 301;  // the hold is 300
  EXPECT_TRUE(has_problem(replay_events(ev), "balance after the event"));
}

TEST_F(ReplayTest, NegativeSettle) {
  auto ev = ledger_.events();
  ev[find(EventKind::settle, settled_)].amount = -1;
  EXPECT_TRUE(has_problem(replay_events(ev), "negative capture"));
}

TEST_F(ReplayTest, ExpireOfAnUnknownReservation) {
  auto ev = ledger_.events();
  ev[find(EventKind::expire)].reservation_id = uuid_of(250);
  EXPECT_TRUE(has_problem(replay_events(ev), "unknown reservation"));
}

TEST_F(ReplayTest, ExpireWithoutAReservation) {
  auto ev = ledger_.events();
  ev[find(EventKind::expire)].reservation_id.reset();
  EXPECT_TRUE(has_problem(replay_events(ev), "no reservation id"));
}

TEST_F(ReplayTest, ExpireBeforeExpiresAt) {
  auto ev = ledger_.events();
  const std::size_t reserve = find(EventKind::reserve, expired_);
  const std::size_t expire = find(EventKind::expire, expired_);
  ev[reserve].expires_at = ev[expire].at + 1;
  EXPECT_TRUE(has_problem(replay_events(ev), "expired before its expires_at"));
}

TEST_F(ReplayTest, DoubleClose) {
  auto ev = ledger_.events();
  const Event& last = ev.back();
  Event again;  // a cancel of the hold settled above, with consistent snapshots
  again.seq = last.seq + 1;
  again.kind = EventKind::cancel;
  again.amount = 300;
  again.reservation_id = settled_;
  again.balance = last.balance;
  again.reserved = last.reserved;
  again.at = last.at + 1;
  ev.push_back(again);
  WalletState stored = ledger_.wallet();
  stored.last_seq = again.seq;
  stored.last_at = again.at;
  EXPECT_TRUE(has_problem(replay(ev, stored, ledger_.rows()), "was already settled"));
}

TEST_F(ReplayTest, ExpireAfterCancel) {
  auto ev = ledger_.events();
  ev[find(EventKind::expire)].reservation_id = cancelled_;
  EXPECT_TRUE(has_problem(replay_events(ev), "was already cancelled"));
}

TEST_F(ReplayTest, ReleaseThatDiffersFromTheHold) {
  auto ev = ledger_.events();
  ev[find(EventKind::cancel)].amount = 199;
  EXPECT_TRUE(has_problem(replay_events(ev), "released 199, held 200"));
}

TEST_F(ReplayTest, ReserveTwice) {
  auto ev = ledger_.events();
  ev[find(EventKind::reserve, cancelled_)].reservation_id = settled_;
  EXPECT_TRUE(has_problem(replay_events(ev), "reserved twice"));
}

TEST_F(ReplayTest, ExtendOfALapsedHold) {
  auto ev = ledger_.events();
  const std::size_t extend = find(EventKind::extend, extended_);
  ev[find(EventKind::reserve, extended_)].expires_at = ev[extend].at;
  EXPECT_TRUE(has_problem(replay_events(ev), "extended a reservation that had expired"));
}

TEST_F(ReplayTest, StoredBalanceDiffers) {
  WalletState stored = ledger_.wallet();
  stored.balance += 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), stored, ledger_.rows()), "wallet balance"));
}

TEST_F(ReplayTest, StoredReservedDiffers) {
  WalletState stored = ledger_.wallet();
  stored.reserved -= 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), stored, ledger_.rows()), "wallet reserved"));
}

TEST_F(ReplayTest, StoredActiveCountDiffers) {
  WalletState stored = ledger_.wallet();
  stored.active_reservations += 1;
  EXPECT_TRUE(
      has_problem(replay(ledger_.events(), stored, ledger_.rows()), "wallet active_reservations"));
}

TEST_F(ReplayTest, StoredLastSeqAndTimeDiffer) {
  WalletState stored = ledger_.wallet();
  stored.last_seq += 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), stored, ledger_.rows()), "wallet last_seq"));
  stored = ledger_.wallet();
  stored.last_at = *stored.last_at + 1;
  EXPECT_TRUE(
      has_problem(replay(ledger_.events(), stored, ledger_.rows()), "last event time differs"));
}

TEST_F(ReplayTest, StoredReservationMissing) {
  auto rows = ledger_.rows();
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [&](const Reservation& r) { return r.id == cancelled_; }),
             rows.end());
  EXPECT_TRUE(has_problem(replay(ledger_.events(), ledger_.wallet(), rows),
                          to_string(cancelled_) + " is missing"));
}

TEST_F(ReplayTest, StoredReservationWithoutReserveEvent) {
  auto rows = ledger_.rows();
  Reservation extra = rows.front();
  extra.id = uuid_of(240);
  rows.push_back(extra);
  EXPECT_TRUE(
      has_problem(replay(ledger_.events(), ledger_.wallet(), rows), "has no reserve event"));
}

TEST_F(ReplayTest, StoredReservationWithWrongState) {
  auto rows = ledger_.rows();
  for (auto& r : rows)
    if (r.id == settled_) r.state = ReservationState::cancelled;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), ledger_.wallet(), rows),
                          "is cancelled, replay gives settled"));
}

TEST_F(ReplayTest, StoredReservationWithWrongFields) {
  auto rows = ledger_.rows();
  for (auto& r : rows)
    if (r.id == settled_) r.captured += 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), ledger_.wallet(), rows), "captured 121"));

  rows = ledger_.rows();
  for (auto& r : rows)
    if (r.id == cancelled_) r.amount += 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), ledger_.wallet(), rows), "holds 201"));

  rows = ledger_.rows();
  for (auto& r : rows)
    if (r.id == extended_) r.expires_at += 1;
  EXPECT_TRUE(has_problem(replay(ledger_.events(), ledger_.wallet(), rows), "expires_at differs"));
}

Event event(std::int64_t seq, EventKind kind, Amount amount, Amount balance, Amount reserved) {
  Event e;
  e.seq = seq;
  e.kind = kind;
  e.amount = amount;
  e.balance = balance;
  e.reserved = reserved;
  e.at = kT + seq;
  return e;
}

TEST(Replay, AvailableBelowZeroFromADebit) {
  // Consistent snapshots, but the debit spent more than there was.
  Replay r;
  r.apply(event(1, EventKind::credit, 10, 10, 0));
  r.apply(event(2, EventKind::debit, 20, -10, 0));
  EXPECT_EQ(r.problems().size(), 1u);
  ASSERT_FALSE(r.problems().empty());
  EXPECT_NE(r.problems()[0].find("available went below zero"), std::string::npos)
      << r.problems()[0];
}

TEST(Replay, AvailableBelowZeroWhenTheSubtractionWouldOverflow) {
  // A stored row with balance INT64_MIN and reserved 1: balance - reserved
  // does not fit in 64 bits, and the row must still be reported.
  Replay r;
  r.apply(event(1, EventKind::credit, 1, std::numeric_limits<Amount>::min(), 1));
  bool reported = false;
  for (const std::string& p : r.problems())
    reported = reported || p.find("available went below zero") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST(Replay, AvailableBelowZeroFromAReserve) {
  Replay r;
  r.apply(event(1, EventKind::credit, 10, 10, 0));
  Event hold = event(2, EventKind::reserve, 11, 10, 11);
  hold.reservation_id = uuid_of(1);
  hold.expires_at = kT + kTtl;
  r.apply(hold);
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_NE(r.problems()[0].find("available went below zero"), std::string::npos)
      << r.problems()[0];
}

TEST(Replay, NonPositiveAmounts) {
  Replay r;
  r.apply(event(1, EventKind::credit, 0, 0, 0));
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_NE(r.problems()[0].find("amount is not positive"), std::string::npos);
}

TEST(Replay, ReserveWithoutExpiresAt) {
  Replay r;
  r.apply(event(1, EventKind::credit, 10, 10, 0));
  Event hold = event(2, EventKind::reserve, 5, 10, 5);
  hold.reservation_id = uuid_of(1);
  r.apply(hold);
  ASSERT_FALSE(r.problems().empty());
  EXPECT_NE(r.problems()[0].find("without reservation id or expires_at"), std::string::npos);
}

TEST(Replay, OverflowIsReportedNotWrapped) {
  Replay r;
  r.apply(event(1, EventKind::credit, std::numeric_limits<Amount>::max(),
                std::numeric_limits<Amount>::max(), 0));
  EXPECT_TRUE(r.problems().empty());
  r.apply(event(2, EventKind::credit, 1, std::numeric_limits<Amount>::max(), 0));
  ASSERT_FALSE(r.problems().empty());
  EXPECT_NE(r.problems()[0].find("amount overflow"), std::string::npos) << r.problems()[0];
}

TEST(Replay, OneDivergenceIsReportedOnce) {
  // A wrong snapshot on one event does not make every later event diverge.
  Replay r;
  r.apply(event(1, EventKind::credit, 10, 11, 0));
  r.apply(event(2, EventKind::credit, 5, 16, 0));
  r.apply(event(3, EventKind::debit, 6, 10, 0));
  EXPECT_EQ(r.problems().size(), 1u);
}

}  // namespace
}  // namespace baseledger::core
