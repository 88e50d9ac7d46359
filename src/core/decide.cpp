// The ledger's state transitions: expiry of lapsed holds, then the command.
#include "core/decide.hpp"

#include <algorithm>
#include <string>

#include "core/checked.hpp"
#include "core/errors.hpp"

namespace baseledger::core {

namespace {

class Builder {
 public:
  Builder(const WalletState& wallet, Micros clock) : now_(next_event_time(wallet, clock)) {
    decision_.wallet = wallet;
  }

  Micros now() const { return now_; }
  WalletState& wallet() { return decision_.wallet; }

  Event& append(EventKind kind, Amount amount, const std::optional<Uuid>& reservation_id) {
    Event e;
    e.seq = decision_.wallet.last_seq + 1;
    e.kind = kind;
    e.amount = amount;
    e.reservation_id = reservation_id;
    e.at = decision_.wallet.last_at ? std::max(now_, *decision_.wallet.last_at + 1) : now_;
    decision_.wallet.last_seq = e.seq;
    decision_.wallet.last_at = e.at;
    decision_.events.push_back(e);
    return decision_.events.back();
  }

  // Records the projection after the last appended event into it.
  void seal() {
    Event& e = decision_.events.back();
    e.balance = decision_.wallet.balance;
    e.reserved = decision_.wallet.reserved;
  }

  void mark_command() { decision_.events.back().from_command = true; }

  void write_reservation(const Reservation& r, bool is_new) {
    decision_.reservations.push_back(r);
    decision_.reservation_is_new.push_back(is_new);
  }

  Decision take() { return std::move(decision_); }

 private:
  Micros now_;
  Decision decision_;
};

void release_hold(WalletState& w, const Reservation& r) {
  w.reserved = checked_sub(w.reserved, r.amount);
  w.active_reservations -= 1;
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

void require_available(const WalletState& w, Amount amount) {
  if (w.available() < amount)
    throw LedgerError(sqlstate::insufficient_funds, "insufficient funds",
                      "The wallet has " + std::to_string(w.available()) + " available; " +
                          std::to_string(amount) + " was requested.");
}

}  // namespace

Micros next_event_time(const WalletState& wallet, Micros clock) {
  if (wallet.last_at && *wallet.last_at >= clock) return *wallet.last_at + 1;
  return clock;
}

Decision decide(const WriteInput& input, const Command* command) {
  Builder b(input.wallet, input.clock);
  const Micros now = b.now();

  // The dead-man's switch: every lapsed hold is closed before anything else.
  // Each expire event takes the next microsecond, so the time the command's
  // event will carry moves on as holds are closed: a hold is closed when it
  // has lapsed by then, and the command is judged with none of them counted.
  std::vector<Reservation> due = input.due;
  std::sort(due.begin(), due.end(), [](const Reservation& a, const Reservation& c) {
    return a.expires_at != c.expires_at ? a.expires_at < c.expires_at : a.id < c.id;
  });
  for (Reservation r : due) {
    if (r.state != ReservationState::active) continue;
    if (r.expires_at > next_event_time(b.wallet(), now)) break;
    release_hold(b.wallet(), r);
    b.append(EventKind::expire, r.amount, r.id);
    b.seal();
    r.state = ReservationState::expired;
    r.updated_at = b.wallet().last_at.value();
    b.write_reservation(r, false);
  }

  if (command == nullptr) return b.take();
  WalletState& w = b.wallet();
  // The command's event comes after the expire events: a target is judged at
  // that event's time, not at the first event's.
  const Micros at = next_event_time(w, now);

  switch (command->kind) {
    case EventKind::credit: {
      w.balance = checked_add(w.balance, command->amount);
      b.append(EventKind::credit, command->amount, std::nullopt);
      break;
    }
    case EventKind::debit: {
      require_available(w, command->amount);
      w.balance = checked_sub(w.balance, command->amount);
      b.append(EventKind::debit, command->amount, std::nullopt);
      break;
    }
    case EventKind::reserve: {
      if (w.active_reservations >= input.max_active_reservations)
        throw LedgerError(sqlstate::program_limit_exceeded, "too many active reservations",
                          "The wallet has " + std::to_string(w.active_reservations) +
                              " active reservations; the limit is " +
                              std::to_string(input.max_active_reservations) + ".",
                          "Settle or cancel holds, or raise baseledger.max_active_reservations.");
      require_available(w, command->amount);
      w.reserved = checked_add(w.reserved, command->amount);
      w.active_reservations += 1;
      Event& e = b.append(EventKind::reserve, command->amount, input.new_reservation_id);
      Reservation r;
      r.id = input.new_reservation_id;
      r.amount = command->amount;
      r.state = ReservationState::active;
      r.created_at = r.updated_at = e.at;
      r.expires_at = checked_add(e.at, command->ttl);
      e.expires_at = r.expires_at;
      b.write_reservation(r, true);
      break;
    }
    case EventKind::settle: {
      Reservation r = open_target(input.target, *command->reservation_id, at);
      if (command->amount > r.amount)
        throw LedgerError(sqlstate::capture_exceeds_hold, "capture exceeds the reservation",
                          "The reservation holds " + std::to_string(r.amount) + "; " +
                              std::to_string(command->amount) + " was to be captured.");
      release_hold(w, r);
      w.balance = checked_sub(w.balance, command->amount);
      Event& e = b.append(EventKind::settle, command->amount, r.id);
      r.captured = command->amount;
      r.state = ReservationState::settled;
      r.updated_at = e.at;
      b.write_reservation(r, false);
      break;
    }
    case EventKind::cancel: {
      Reservation r = open_target(input.target, *command->reservation_id, at);
      release_hold(w, r);
      Event& e = b.append(EventKind::cancel, r.amount, r.id);
      r.state = ReservationState::cancelled;
      r.updated_at = e.at;
      b.write_reservation(r, false);
      break;
    }
    case EventKind::extend: {
      Reservation r = open_target(input.target, *command->reservation_id, at);
      Event& e = b.append(EventKind::extend, 0, r.id);
      r.expires_at = checked_add(e.at, command->ttl);
      r.updated_at = e.at;
      e.expires_at = r.expires_at;
      b.write_reservation(r, false);
      break;
    }
    case EventKind::expire:
      throw LedgerError(sqlstate::internal_error, "expire is not a client command");
  }
  b.seal();
  b.mark_command();
  return b.take();
}

}  // namespace baseledger::core
