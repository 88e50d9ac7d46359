// The ledger's state transitions: expiry of lapsed holds, then the command,
// at the command's wallet and at every one of its ancestors.
#include "core/decide.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "core/checked.hpp"
#include "core/errors.hpp"

namespace baseledger::core {

namespace {

std::string num(std::int64_t v) {
  return std::to_string(v);
}

std::string wallet_name(const Level& level) {
  return level.wallet_id.empty() ? std::string("The wallet") : "Wallet \"" + level.wallet_id + "\"";
}

class Builder {
 public:
  explicit Builder(const TreeInput& input) {
    d_.wallets = input.wallets;
    d_.events.resize(input.wallets.size());
    // The index by id is built only for a call with wallets below a root.
    std::map<std::string, std::size_t> index;
    parent_.assign(input.wallets.size(), npos);
    for (std::size_t i = 0; i < input.wallets.size(); ++i) {
      const std::string& parent = input.wallets[i].parent_id;
      if (parent.empty()) continue;
      if (index.empty())
        for (std::size_t k = 0; k < input.wallets.size(); ++k)
          index[input.wallets[k].wallet_id] = k;
      auto it = index.find(parent);
      if (it == index.end())
        throw LedgerError(
            sqlstate::internal_error, "a wallet's parent was not loaded",
            "Wallet \"" + input.wallets[i].wallet_id + "\" has no parent in the call.");
      parent_[i] = it->second;
    }
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // The wallet and its ancestors, root first.
  std::vector<std::size_t> chain(std::size_t wallet) const {
    std::vector<std::size_t> out;
    for (std::size_t w = wallet; w != npos; w = parent_[w]) out.push_back(w);
    std::reverse(out.begin(), out.end());
    return out;
  }

  Level& level(std::size_t i) { return d_.wallets[i]; }

  Event& append(std::size_t wallet, EventKind kind, Amount amount,
                const std::optional<Uuid>& reservation_id, Micros at) {
    WalletState& w = d_.wallets[wallet].state;
    Event e;
    e.seq = checked_add(w.last_seq, 1);
    e.kind = kind;
    e.amount = amount;
    e.reservation_id = reservation_id;
    e.at = at;
    e.balance = w.balance;
    e.reserved = w.reserved;
    w.last_seq = e.seq;
    w.last_at = at;
    d_.events[wallet].push_back(e);
    return d_.events[wallet].back();
  }

  void write_reservation(const Reservation& r, std::size_t owner, bool is_new) {
    d_.reservations.push_back(r);
    d_.reservation_owner.push_back(owner);
    d_.reservation_is_new.push_back(is_new);
  }

  // Counts amount and requests in the period use of every level of chain
  // with limits, in the period that contains admitted_at.
  void count_usage(const std::vector<std::size_t>& chain, Micros admitted_at, Amount amount,
                   std::int64_t requests) {
    if (amount == 0 && requests == 0) return;
    for (std::size_t i : chain) {
      Level& l = d_.wallets[i];
      if (!l.has_limits) continue;
      d_.usage.push_back(UsageDelta{i, admitted_at, amount, requests});
      for (LimitUsage& u : l.limits) {
        if (!u.contains(admitted_at)) continue;
        u.used_amount = std::max<Amount>(checked_add(u.used_amount, amount), 0);
        u.used_requests = std::max<std::int64_t>(u.used_requests + requests, 0);
      }
    }
  }

  TreeDecision take() { return std::move(d_); }
  TreeDecision& decision() { return d_; }

 private:
  TreeDecision d_;
  std::vector<std::size_t> parent_;
};

std::vector<DueHold> sorted_due(const TreeInput& input) {
  std::vector<DueHold> due = input.due;
  std::sort(due.begin(), due.end(), [](const DueHold& a, const DueHold& c) {
    return a.hold.expires_at != c.hold.expires_at ? a.hold.expires_at < c.hold.expires_at
                                                  : a.hold.id < c.hold.id;
  });
  return due;
}

// Checks that a settle, cancel or extend may act on the reservation.
const Reservation& open_target(const std::optional<Reservation>& target, const Uuid& id,
                               Micros now) {
  if (!target)
    throw LedgerError(sqlstate::reservation_not_found, "reservation not found",
                      "No reservation " + to_string(id) + " exists in this wallet.");
  if (target->state == ReservationState::expired || target->lapsed_at(now))
    throw LedgerError(sqlstate::reservation_expired, "reservation expired",
                      "Reservation " + to_string(id) + " expired; its hold was released.",
                      "Reserve again with a new idempotency key.");
  if (target->state != ReservationState::active)
    throw LedgerError(sqlstate::reservation_closed, "reservation already closed",
                      "Reservation " + to_string(id) + " is " + to_string(target->state) + ".");
  return *target;
}

// Would taking amount leave the level within its budget (and credit line)?
bool fits(const Level& l, Amount amount) {
  if (!l.policy.capped) return true;
  Amount floor = checked_sub(0, l.policy.overdraft);
  return checked_sub(l.state.available(), amount) >= floor;
}

std::string funds_detail(const Level& l, Amount amount) {
  std::string d = wallet_name(l) + " has " + num(l.state.available()) + " available";
  if (l.policy.overdraft > 0) d += " with a credit line of " + num(l.policy.overdraft);
  return d + "; " + num(amount) + " was requested.";
}

void require_funds(const Level& l, Amount amount) {
  if (!fits(l, amount))
    throw LedgerError(sqlstate::insufficient_funds, "insufficient funds", funds_detail(l, amount));
}

void require_limits(const Level& l, Amount amount, bool is_reserve) {
  if (is_reserve && l.policy.max_active && l.state.active_reservations >= *l.policy.max_active)
    throw LedgerError(sqlstate::limit_reached, "concurrency limit reached",
                      wallet_name(l) + " has " + num(l.state.active_reservations) +
                          " active reservations; its limit is " + num(*l.policy.max_active) + ".",
                      "Settle or cancel a hold, or raise the limit with ledger_set_concurrency.");
  for (const LimitUsage& u : l.limits) {
    if (u.max_amount && checked_add(u.used_amount, amount) > *u.max_amount)
      throw LedgerError(
          sqlstate::limit_reached, "period amount limit reached",
          wallet_name(l) + " has used " + num(u.used_amount) + " of its " + to_string(u.period) +
              " limit of " + num(*u.max_amount) + "; " + num(amount) + " was requested.",
          "The limit resets at the start of the next " + std::string(to_string(u.period)) + ".");
    if (u.max_requests && u.used_requests + 1 > *u.max_requests)
      throw LedgerError(
          sqlstate::limit_reached, "period request limit reached",
          wallet_name(l) + " has admitted " + num(u.used_requests) + " of its " +
              to_string(u.period) + " limit of " + num(*u.max_requests) + " requests.",
          "The limit resets at the start of the next " + std::string(to_string(u.period)) + ".");
  }
}

// Closes a lapsed hold at its owner and every ancestor, at time at.
void expire_hold(Builder& b, const DueHold& due, Micros at) {
  Reservation r = due.hold;
  const std::vector<std::size_t> chain = b.chain(due.owner);
  for (std::size_t i : chain) {
    WalletState& w = b.level(i).state;
    w.reserved = checked_sub(w.reserved, r.amount);
    w.active_reservations -= 1;
    if (r.capture_on_expire) w.balance = checked_sub(w.balance, r.amount);
    b.append(i, EventKind::expire, r.amount, r.id, at);
  }
  if (!r.capture_on_expire) b.count_usage(chain, r.created_at, -r.amount, 0);
  r.state = ReservationState::expired;
  r.captured = r.capture_on_expire ? r.amount : 0;
  r.updated_at = at;
  b.write_reservation(r, due.owner, false);
}

}  // namespace

Micros next_event_time(const WalletState& wallet, Micros clock) {
  if (wallet.last_at && *wallet.last_at >= clock) return *wallet.last_at + 1;
  return clock;
}

std::string parent_of(const std::string& wallet_id) {
  const std::size_t slash = wallet_id.rfind('/');
  return slash == std::string::npos ? std::string() : wallet_id.substr(0, slash);
}

std::size_t depth_of(const std::string& wallet_id) {
  return static_cast<std::size_t>(std::count(wallet_id.begin(), wallet_id.end(), '/')) + 1;
}

Micros first_step_time(const TreeInput& input) {
  Micros t = input.clock;
  for (const Level& l : input.wallets)
    if (l.state.last_at && *l.state.last_at >= t) t = *l.state.last_at + 1;
  return t;
}

Micros command_time(const TreeInput& input) {
  Micros t = first_step_time(input);
  for (const DueHold& d : sorted_due(input)) {
    if (d.hold.state != ReservationState::active) continue;
    if (d.hold.expires_at > t) break;
    t += 1;
  }
  return t;
}

TreeDecision decide_tree(const TreeInput& input, const Command* command) {
  if (input.path_size == 0 || input.path_size > input.wallets.size())
    throw LedgerError(sqlstate::internal_error, "a call without its wallet");
  Builder b(input);

  // The dead-man's switch: every lapsed hold of the tree is closed first, one
  // step (one microsecond) each; a hold lapsing before the next step's time is
  // closed too, so the command is judged with none of them counted.
  Micros t = first_step_time(input);
  for (const DueHold& d : sorted_due(input)) {
    if (d.hold.state != ReservationState::active) continue;
    if (d.hold.expires_at > t) break;
    expire_hold(b, d, t);
    t += 1;
  }
  b.decision().command_time = t;
  if (command == nullptr) return b.take();

  const std::size_t leaf = input.path_size - 1;
  const std::vector<std::size_t> path = b.chain(leaf);
  if (path.size() != input.path_size || path.front() != 0)
    throw LedgerError(sqlstate::internal_error, "the call's path is not root first");
  b.decision().command_wallet = leaf;

  switch (command->kind) {
    case EventKind::credit: {
      Level& l = b.level(leaf);
      if (!l.policy.capped)
        throw LedgerError(sqlstate::object_not_in_prerequisite_state, "wallet is uncapped",
                          wallet_name(l) + " has no budget of its own; its ancestors bound it.",
                          "Credit its parent, or create the wallet capped.");
      l.state.balance = checked_add(l.state.balance, command->amount);
      b.append(leaf, EventKind::credit, command->amount, std::nullopt, t);
      break;
    }
    case EventKind::debit: {
      for (std::size_t i : path) {
        require_funds(b.level(i), command->amount);
        require_limits(b.level(i), command->amount, false);
      }
      for (std::size_t i : path) {
        WalletState& w = b.level(i).state;
        w.balance = checked_sub(w.balance, command->amount);
        b.append(i, EventKind::debit, command->amount, std::nullopt, t);
      }
      b.count_usage(path, t, command->amount, 1);
      break;
    }
    case EventKind::reserve: {
      const Level& owner = b.level(leaf);
      if (owner.state.active_reservations >= input.max_active_reservations)
        throw LedgerError(sqlstate::program_limit_exceeded, "too many active reservations",
                          wallet_name(owner) + " has " + num(owner.state.active_reservations) +
                              " active reservations; the limit is " +
                              num(input.max_active_reservations) + ".",
                          "Settle or cancel holds, or raise baseledger.max_active_reservations.");
      for (std::size_t i : path) {
        require_funds(b.level(i), command->amount);
        require_limits(b.level(i), command->amount, true);
      }
      Reservation r;
      r.id = input.new_reservation_id;
      r.amount = command->amount;
      r.state = ReservationState::active;
      r.created_at = r.updated_at = t;
      r.expires_at = checked_add(t, command->ttl);
      r.capture_on_expire = command->capture_on_expire;
      for (std::size_t i : path) {
        WalletState& w = b.level(i).state;
        w.reserved = checked_add(w.reserved, command->amount);
        w.active_reservations += 1;
        b.append(i, EventKind::reserve, command->amount, r.id, t).expires_at = r.expires_at;
      }
      b.write_reservation(r, leaf, true);
      b.count_usage(path, t, command->amount, 1);
      break;
    }
    case EventKind::settle: {
      Reservation r = open_target(input.target, *command->reservation_id, t);
      if (command->amount > r.amount) {
        const std::string detail = "The reservation holds " + num(r.amount) + "; " +
                                   num(command->amount) + " was to be captured.";
        if (!command->allow_overage)
          throw LedgerError(sqlstate::capture_exceeds_hold, "capture exceeds the reservation",
                            detail, "Settle with allow_overage => true to charge the excess.");
        const Amount excess = command->amount - r.amount;
        for (std::size_t i : path) {
          // The hold is released first: what must fit is the excess alone.
          Level l = b.level(i);
          l.state.reserved = checked_sub(l.state.reserved, r.amount);
          l.state.balance = checked_sub(l.state.balance, r.amount);
          if (!fits(l, excess))
            throw LedgerError(sqlstate::capture_exceeds_hold,
                              "capture exceeds the reservation and the funds",
                              detail + " " + funds_detail(l, excess));
        }
      }
      for (std::size_t i : path) {
        WalletState& w = b.level(i).state;
        w.reserved = checked_sub(w.reserved, r.amount);
        w.active_reservations -= 1;
        w.balance = checked_sub(w.balance, command->amount);
        b.append(i, EventKind::settle, command->amount, r.id, t);
      }
      b.count_usage(path, r.created_at, checked_sub(command->amount, r.amount), 0);
      r.captured = command->amount;
      r.state = ReservationState::settled;
      r.updated_at = t;
      b.write_reservation(r, leaf, false);
      break;
    }
    case EventKind::cancel: {
      Reservation r = open_target(input.target, *command->reservation_id, t);
      for (std::size_t i : path) {
        WalletState& w = b.level(i).state;
        w.reserved = checked_sub(w.reserved, r.amount);
        w.active_reservations -= 1;
        b.append(i, EventKind::cancel, r.amount, r.id, t);
      }
      b.count_usage(path, r.created_at, -r.amount, 0);
      r.state = ReservationState::cancelled;
      r.updated_at = t;
      b.write_reservation(r, leaf, false);
      break;
    }
    case EventKind::extend: {
      Reservation r = open_target(input.target, *command->reservation_id, t);
      r.expires_at = checked_add(t, command->ttl);
      r.updated_at = t;
      for (std::size_t i : path)
        b.append(i, EventKind::extend, 0, r.id, t).expires_at = r.expires_at;
      b.write_reservation(r, leaf, false);
      break;
    }
    case EventKind::expire:
      throw LedgerError(sqlstate::internal_error, "expire is not a client command");
  }
  // The client's key and request go with the command's wallet's event only.
  b.decision().events[leaf].back().from_command = true;
  return b.take();
}

Decision decide(const WriteInput& input, const Command* command) {
  TreeInput tree;
  Level level;
  level.state = input.wallet;
  level.policy = input.policy;
  tree.wallets.push_back(std::move(level));
  tree.due.reserve(input.due.size());
  for (const Reservation& r : input.due) tree.due.push_back(DueHold{r, 0});
  tree.target = input.target;
  tree.clock = input.clock;
  tree.new_reservation_id = input.new_reservation_id;
  tree.max_active_reservations = input.max_active_reservations;
  TreeDecision t = decide_tree(tree, command);
  Decision out;
  out.events = std::move(t.events[0]);
  out.reservations = std::move(t.reservations);
  out.reservation_is_new = std::move(t.reservation_is_new);
  out.wallet = t.wallets[0].state;
  return out;
}

}  // namespace baseledger::core
