// Decisions over a wallet tree: a call writes at its wallet and every
// ancestor, lapsed holds of the whole tree are closed first, and policies
// (uncapped wallets, credit lines, concurrency caps, period limits, overage,
// capture on expiry) are enforced at every level, root first. The events each
// wallet receives replay cleanly on their own.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/decide.hpp"
#include "core/replay.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {
namespace {

constexpr Micros kT = 2000000000;
constexpr Micros kTtl = 60000000;

Uuid uuid_of(std::uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

// A tree kept in memory: wallets by id, the reservations each owns, and each
// wallet's events, so that every decision is applied and can be replayed.
class Tree {
 public:
  void add(const std::string& id, const std::string& parent, Amount balance = 0,
           Policy policy = Policy{}) {
    Level l;
    l.wallet_id = id;
    l.parent_id = parent;
    l.policy = policy;
    levels_[id] = l;
    order_.push_back(id);
    if (balance > 0) credit(id, balance);
  }

  Level& level(const std::string& id) { return levels_.at(id); }
  const std::vector<Event>& events(const std::string& id) { return events_[id]; }
  const Reservation& reservation(const Uuid& id) { return holds_.at(id).first; }

  // The input of a call on wallet_id at clock: its path, and every other
  // wallet of the tree with the active holds as due candidates.
  TreeInput input(const std::string& wallet_id, Micros clock) {
    TreeInput in;
    std::vector<std::string> path;
    for (std::string id = wallet_id; !id.empty(); id = levels_.at(id).parent_id)
      path.insert(path.begin(), id);
    for (const std::string& id : path) in.wallets.push_back(levels_.at(id));
    in.path_size = path.size();
    for (const std::string& id : order_)
      if (std::find(path.begin(), path.end(), id) == path.end())
        in.wallets.push_back(levels_.at(id));
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < in.wallets.size(); ++i) index[in.wallets[i].wallet_id] = i;
    for (const auto& [rid, held] : holds_)
      if (held.first.state == ReservationState::active)
        in.due.push_back(DueHold{held.first, index.at(held.second)});
    in.clock = clock;
    return in;
  }

  TreeDecision call(const std::string& wallet_id, Command command, Micros clock,
                    std::uint8_t new_id = 0) {
    TreeInput in = input(wallet_id, clock);
    if (command.reservation_id) {
      auto it = holds_.find(*command.reservation_id);
      if (it != holds_.end() && it->second.second == wallet_id) in.target = it->second.first;
    }
    in.new_reservation_id = uuid_of(new_id);
    TreeDecision d = decide_tree(in, &command);
    apply(d);
    return d;
  }

  TreeDecision expire_all(Micros clock) {
    TreeDecision d = decide_tree(input(order_.front(), clock), nullptr);
    apply(d);
    return d;
  }

  void credit(const std::string& id, Amount amount) {
    Command c;
    c.kind = EventKind::credit;
    c.amount = amount;
    call(id, c, next_clock_++);
  }

  // Replays every wallet's events alone; returns all problems found.
  std::vector<std::string> replay_problems() {
    std::vector<std::string> out;
    for (const std::string& id : order_) {
      Replay r(levels_.at(id).policy);
      for (const Event& e : events_[id]) r.apply(e);
      std::vector<Reservation> subtree;
      for (const auto& [rid, held] : holds_)
        if (held.second == id || held.second.rfind(id + "/", 0) == 0) subtree.push_back(held.first);
      r.finish(levels_.at(id).state, subtree);
      for (const std::string& p : r.problems()) out.push_back(id + ": " + p);
    }
    return out;
  }

 private:
  void apply(const TreeDecision& d) {
    for (std::size_t i = 0; i < d.wallets.size(); ++i) {
      const std::string& id = d.wallets[i].wallet_id;
      levels_.at(id).state = d.wallets[i].state;
      levels_.at(id).limits = d.wallets[i].limits;  // (the shell reloads them per call)
      for (const Event& e : d.events[i]) events_[id].push_back(e);
    }
    for (std::size_t i = 0; i < d.reservations.size(); ++i)
      holds_[d.reservations[i].id] = {d.reservations[i],
                                      d.wallets[d.reservation_owner[i]].wallet_id};
  }

  std::map<std::string, Level> levels_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<Event>> events_;
  std::map<Uuid, std::pair<Reservation, std::string>> holds_;
  Micros next_clock_ = kT - 1000000;
};

Command reserve(Amount amount, Micros ttl = kTtl) {
  Command c;
  c.kind = EventKind::reserve;
  c.amount = amount;
  c.ttl = ttl;
  return c;
}

Command settle(std::uint8_t id, Amount amount, bool overage = false) {
  Command c;
  c.kind = EventKind::settle;
  c.reservation_id = uuid_of(id);
  c.amount = amount;
  c.allow_overage = overage;
  return c;
}

Command debit(Amount amount) {
  Command c;
  c.kind = EventKind::debit;
  c.amount = amount;
  return c;
}

// org (1000) / team (500) / agent-1 (300), agent-2 (300)
Tree fleet() {
  Tree t;
  t.add("org", "", 1000);
  t.add("org/team", "org", 500);
  t.add("org/team/agent-1", "org/team", 300);
  t.add("org/team/agent-2", "org/team", 300);
  return t;
}

TEST(Tree, AReserveHoldsAtEveryLevelWithOneTime) {
  Tree t = fleet();
  TreeDecision d = t.call("org/team/agent-1", reserve(100), kT, 1);
  for (const char* id : {"org", "org/team", "org/team/agent-1"}) {
    const Event& e = t.events(id).back();
    EXPECT_EQ(e.kind, EventKind::reserve) << id;
    EXPECT_EQ(e.amount, 100) << id;
    EXPECT_EQ(e.reservation_id, uuid_of(1)) << id;
    EXPECT_EQ(e.at, kT) << id;
    EXPECT_EQ(t.level(id).state.reserved, 100) << id;
  }
  EXPECT_EQ(t.level("org/team/agent-2").state.reserved, 0);
  // Only the command's wallet's event carries the client's request.
  EXPECT_TRUE(t.events("org/team/agent-1").back().from_command);
  EXPECT_FALSE(t.events("org").back().from_command);
  EXPECT_EQ(d.reservations.size(), 1u);
  EXPECT_EQ(d.wallets[d.reservation_owner[0]].wallet_id, "org/team/agent-1");
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, TheTightestLevelRefusesRootFirst) {
  Tree t = fleet();
  t.call("org/team/agent-1", reserve(250), kT, 1);
  // agent-2 has 300, the team 250 left: the team refuses.
  try {
    t.call("org/team/agent-2", reserve(260), kT + 1, 2);
    ADD_FAILURE() << "no refusal";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.sqlstate(), "LB001");
    EXPECT_NE(e.detail().find("Wallet \"org/team\" has 250 available"), std::string::npos)
        << e.detail();
  }
  EXPECT_EQ(t.level("org/team/agent-2").state.reserved, 0);
}

TEST(Tree, UncappedWalletsOnlyTrackSpending) {
  Tree t;
  t.add("org", "", 1000);
  Policy uncapped;
  uncapped.capped = false;
  t.add("org/session", "org", 0, uncapped);
  t.call("org/session", debit(400), kT);
  EXPECT_EQ(t.level("org/session").state.balance, -400);
  EXPECT_EQ(t.level("org").state.balance, 600);
  EXPECT_SQLSTATE(t.call("org/session", debit(601), kT + 1), "LB001");
  Command c;
  c.kind = EventKind::credit;
  c.amount = 1;
  EXPECT_SQLSTATE(t.call("org/session", c, kT + 2), "55000");
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, ACreditLineLetsAvailableGoNegative) {
  Tree t;
  Policy line;
  line.overdraft = 50;
  t.add("solo", "", 100, line);
  t.call("solo", debit(150), kT);
  EXPECT_EQ(t.level("solo").state.available(), -50);
  EXPECT_SQLSTATE(t.call("solo", debit(1), kT + 1), "LB001");
  EXPECT_TRUE(t.replay_problems().empty());
  // Without the line, the same history is an overdraft.
  Replay strict;
  for (const Event& e : t.events("solo")) strict.apply(e);
  EXPECT_FALSE(strict.problems().empty());
}

TEST(Tree, ConcurrencyCapCountsTheSubtree) {
  Tree t = fleet();
  t.level("org/team").policy.max_active = 2;
  t.call("org/team/agent-1", reserve(10), kT, 1);
  t.call("org/team/agent-2", reserve(10), kT + 1, 2);
  try {
    t.call("org/team/agent-1", reserve(10), kT + 2, 3);
    ADD_FAILURE() << "no refusal";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.sqlstate(), "LB008");
    EXPECT_STREQ(e.what(), "concurrency limit reached");
    EXPECT_NE(e.detail().find("\"org/team\" has 2 active reservations; its limit is 2"),
              std::string::npos)
        << e.detail();
  }
  // Once holds lapse they no longer count: the next reserve expires both first.
  t.call("org/team/agent-1", reserve(10), kT + kTtl + 5, 3);
  EXPECT_EQ(t.level("org/team").state.active_reservations, 1);
  EXPECT_EQ(t.events("org/team/agent-2").back().kind, EventKind::expire);
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, PeriodLimitsCountAndRefuse) {
  Tree t = fleet();
  Level& team = t.level("org/team");
  team.has_limits = true;
  LimitUsage day;
  day.period = Period::day;
  day.max_amount = 100;
  day.max_requests = 3;
  day.period_start = kT - 1000;
  day.period_end = kT + 86400000000LL;
  team.limits.push_back(day);
  TreeDecision d = t.call("org/team/agent-1", reserve(60), kT, 1);
  ASSERT_EQ(d.usage.size(), 1u);
  EXPECT_EQ(d.usage[0].amount, 60);
  EXPECT_EQ(d.usage[0].requests, 1);
  try {
    t.call("org/team/agent-2", reserve(50), kT + 1, 2);
    ADD_FAILURE() << "no refusal";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.sqlstate(), "LB008");
    EXPECT_STREQ(e.what(), "period amount limit reached");
    EXPECT_NE(e.detail().find("has used 60 of its day limit of 100; 50 was requested"),
              std::string::npos)
        << e.detail();
  }
  // A settle below the hold gives the difference back to the period.
  TreeDecision s = t.call("org/team/agent-1", settle(1, 20), kT + 2);
  ASSERT_EQ(s.usage.size(), 1u);
  EXPECT_EQ(s.usage[0].amount, -40);
  EXPECT_EQ(s.usage[0].admitted_at, kT);
  EXPECT_EQ(t.level("org/team").limits[0].used_amount, 20);
  t.call("org/team/agent-2", reserve(50), kT + 3, 2);
  t.call("org/team/agent-2", reserve(1), kT + 4, 3);  // the third request of the day
  try {
    t.call("org/team/agent-2", reserve(1), kT + 5, 4);
    ADD_FAILURE() << "no refusal";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.sqlstate(), "LB008");
    EXPECT_STREQ(e.what(), "period request limit reached");
  }
  EXPECT_EQ(t.level("org/team").limits[0].used_requests, 3);
  EXPECT_EQ(t.level("org/team").limits[0].used_amount, 71);
}

TEST(Tree, LapsedHoldsAnywhereInTheTreeCloseFirst) {
  Tree t = fleet();
  t.call("org/team/agent-2", reserve(200, 1000), kT, 1);
  EXPECT_EQ(t.level("org").state.available(), 800);
  // agent-1's call, after agent-2's hold lapsed, closes it at agent-2, the
  // team and the org, then reserves with the released funds.
  t.call("org/team/agent-1", reserve(300), kT + 5000, 2);
  for (const char* id : {"org", "org/team", "org/team/agent-2"}) {
    const std::vector<Event>& ev = t.events(id);
    const Event& expire = id == std::string("org/team/agent-2") ? ev.back() : ev[ev.size() - 2];
    EXPECT_EQ(expire.kind, EventKind::expire) << id;
    EXPECT_EQ(expire.at, kT + 5000) << id;
  }
  EXPECT_EQ(t.events("org").back().at, kT + 5001);
  EXPECT_EQ(t.reservation(uuid_of(1)).state, ReservationState::expired);
  EXPECT_EQ(t.level("org").state.reserved, 300);
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, OverageFitsAtEveryLevelOrIsRefused) {
  Tree t = fleet();
  t.call("org/team/agent-1", reserve(100), kT, 1);
  EXPECT_SQLSTATE(t.call("org/team/agent-1", settle(1, 150), kT + 1), "LB006");
  t.call("org/team/agent-1", settle(1, 150, true), kT + 2);
  EXPECT_EQ(t.level("org/team/agent-1").state.balance, 150);
  EXPECT_EQ(t.level("org").state.balance, 850);
  EXPECT_EQ(t.reservation(uuid_of(1)).captured, 150);
  // The team has 350 left: an excess of 400 does not fit there.
  t.call("org/team/agent-2", reserve(100), kT + 3, 2);
  try {
    t.call("org/team/agent-2", settle(2, 500, true), kT + 4);
    ADD_FAILURE() << "no refusal";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.sqlstate(), "LB006");
    EXPECT_NE(e.detail().find("Wallet \"org/team\""), std::string::npos) << e.detail();
  }
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, CaptureOnExpiryChargesEveryLevel) {
  Tree t = fleet();
  Command c = reserve(80, 1000);
  c.capture_on_expire = true;
  t.call("org/team/agent-1", c, kT, 1);
  TreeDecision d = t.expire_all(kT + 2000);
  EXPECT_EQ(d.reservations.size(), 1u);
  EXPECT_EQ(t.reservation(uuid_of(1)).state, ReservationState::expired);
  EXPECT_EQ(t.reservation(uuid_of(1)).captured, 80);
  EXPECT_EQ(t.level("org").state.balance, 920);
  EXPECT_EQ(t.level("org/team/agent-1").state.balance, 220);
  EXPECT_EQ(t.level("org").state.reserved, 0);
  EXPECT_TRUE(t.replay_problems().empty());
}

TEST(Tree, ADebitChargesEveryLevel) {
  Tree t = fleet();
  t.call("org/team/agent-2", debit(70), kT);
  EXPECT_EQ(t.level("org").state.balance, 930);
  EXPECT_EQ(t.level("org/team").state.balance, 430);
  EXPECT_EQ(t.level("org/team/agent-2").state.balance, 230);
  EXPECT_EQ(t.level("org/team/agent-1").state.balance, 300);
  EXPECT_TRUE(t.replay_problems().empty());
}

}  // namespace
}  // namespace baseledger::core
