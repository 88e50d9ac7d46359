// Event replay for verification. Written apart from decide() on purpose: it
// re-derives the projection from the events alone.
#include "core/replay.hpp"

namespace baseledger::core {

namespace {

std::string num(std::int64_t v) {
  return std::to_string(v);
}

bool add(Amount a, Amount b, Amount* out) {
  return !__builtin_add_overflow(a, b, out);
}
bool sub(Amount a, Amount b, Amount* out) {
  return !__builtin_sub_overflow(a, b, out);
}

}  // namespace

void Replay::problem(const Event& e, const std::string& what) {
  problems_.push_back("seq " + num(e.seq) + " (" + to_string(e.kind) + "): " + what);
}

void Replay::problem(const std::string& what) {
  problems_.push_back(what);
}

void Replay::apply(const Event& e) {
  std::int64_t expected_seq;
  if (__builtin_add_overflow(state_.last_seq, 1, &expected_seq))
    problem(e, "sequence number out of range");
  else if (e.seq != expected_seq)
    problem(e, "sequence gap: expected seq " + num(expected_seq));
  if (state_.last_at && e.at <= *state_.last_at) problem(e, "time does not increase");

  Amount balance = state_.balance;
  Amount reserved = state_.reserved;
  bool ok = true;
  auto needs_open_reservation = [&]() -> Reservation* {
    if (!e.reservation_id) {
      problem(e, "no reservation id");
      return nullptr;
    }
    auto it = reservations_.find(*e.reservation_id);
    if (it == reservations_.end()) {
      problem(e, "unknown reservation " + to_string(*e.reservation_id));
      return nullptr;
    }
    if (it->second.state != ReservationState::active) {
      problem(e, "reservation " + to_string(*e.reservation_id) + " was already " +
                     to_string(it->second.state));
      return nullptr;
    }
    return &it->second;
  };

  switch (e.kind) {
    case EventKind::credit:
      if (e.amount <= 0) problem(e, "amount is not positive");
      ok = add(balance, e.amount, &balance);
      break;
    case EventKind::debit:
      if (e.amount <= 0) problem(e, "amount is not positive");
      ok = sub(balance, e.amount, &balance);
      break;
    case EventKind::reserve: {
      if (e.amount <= 0) problem(e, "amount is not positive");
      if (!e.reservation_id || !e.expires_at) {
        problem(e, "reserve without reservation id or expires_at");
        break;
      }
      if (reservations_.count(*e.reservation_id)) {
        problem(e, "reservation " + to_string(*e.reservation_id) + " reserved twice");
        break;
      }
      Reservation r;
      r.id = *e.reservation_id;
      r.amount = e.amount;
      r.expires_at = *e.expires_at;
      r.created_at = r.updated_at = e.at;
      reservations_[r.id] = r;
      ok = add(reserved, e.amount, &reserved);
      state_.active_reservations += 1;
      break;
    }
    case EventKind::settle:
    case EventKind::cancel:
    case EventKind::expire: {
      Reservation* r = needs_open_reservation();
      if (!r) break;
      if (e.kind == EventKind::settle) {
        // A capture above the hold is an overage (allow_overage); the floor
        // check below still bounds it.
        if (e.amount < 0) problem(e, "negative capture");
        r->captured = e.amount;
        r->state = ReservationState::settled;
        ok = sub(balance, e.amount, &balance);
      } else {
        if (e.amount != r->amount)
          problem(e, "released " + num(e.amount) + ", held " + num(r->amount));
        r->state =
            e.kind == EventKind::cancel ? ReservationState::cancelled : ReservationState::expired;
        if (e.kind == EventKind::expire && e.at < r->expires_at)
          problem(e, "expired before its expires_at");
        // An expiry with on_expire => 'capture' charges the hold: the
        // event's balance says which it was; the reservation row must agree.
        Amount charged;
        if (e.kind == EventKind::expire && sub(balance, r->amount, &charged) &&
            e.balance == charged && e.balance != balance) {
          r->captured = r->amount;
          balance = charged;
        }
      }
      r->updated_at = e.at;
      ok = ok && sub(reserved, r->amount, &reserved);
      state_.active_reservations -= 1;
      break;
    }
    case EventKind::extend: {
      Reservation* r = needs_open_reservation();
      if (!r) break;
      if (!e.expires_at) {
        problem(e, "extend without expires_at");
        break;
      }
      if (r->expires_at <= e.at) problem(e, "extended a reservation that had expired");
      r->expires_at = *e.expires_at;
      r->updated_at = e.at;
      break;
    }
  }
  if (!ok) problem(e, "amount overflow in replay");
  if (balance != e.balance)
    problem(e, "balance after the event is " + num(e.balance) + ", replay gives " + num(balance));
  if (reserved != e.reserved)
    problem(e,
            "reserved after the event is " + num(e.reserved) + ", replay gives " + num(reserved));
  Amount available;
  if (!sub(e.balance, e.reserved, &available))
    problem(e, "available went below zero (out of range)");
  else if (policy_.capped && available < -policy_.overdraft)
    problem(e, policy_.overdraft > 0 ? "available went below the credit line"
                                     : "available went below zero");

  // Carry on from the recorded snapshot so one divergence is reported once.
  state_.balance = e.balance;
  state_.reserved = e.reserved;
  state_.last_seq = e.seq;
  state_.last_at = e.at;
}

void Replay::check_chain(std::string_view wallet_id, const Event& e, const EventRequest& request,
                         const std::optional<Hash>& stored) {
  if (chain_broken_) return;
  const Hash expected = event_hash(chain_head_, wallet_id, e, request);
  if (!stored || *stored != expected) {
    chain_broken_ = true;
    problem(e, "hash chain broken: the event, or one before it, was altered, removed or reordered");
    return;
  }
  chain_head_ = expected;
  state_.last_hash = expected;
}

void Replay::finish(const WalletState& stored,
                    const std::vector<Reservation>& stored_reservations) {
  if (stored.balance != state_.balance)
    problem("wallet balance is " + num(stored.balance) + ", replay gives " + num(state_.balance));
  if (stored.reserved != state_.reserved)
    problem("wallet reserved is " + num(stored.reserved) + ", replay gives " +
            num(state_.reserved));
  if (stored.active_reservations != state_.active_reservations)
    problem("wallet active_reservations is " + num(stored.active_reservations) + ", replay gives " +
            num(state_.active_reservations));
  if (stored.last_seq != state_.last_seq)
    problem("wallet last_seq is " + num(stored.last_seq) + ", replay gives " +
            num(state_.last_seq));
  if (stored.last_at != state_.last_at) problem("wallet last event time differs from replay");
  if (!chain_broken_ && stored.last_hash != chain_head_)
    problem("wallet head hash does not match its last event");

  std::map<Uuid, bool> seen;
  for (const Reservation& s : stored_reservations) {
    const std::string id = to_string(s.id);
    auto it = reservations_.find(s.id);
    if (it == reservations_.end()) {
      problem("reservation " + id + " has no reserve event");
      continue;
    }
    seen[s.id] = true;
    const Reservation& r = it->second;
    if (s.state != r.state)
      problem("reservation " + id + " is " + to_string(s.state) + ", replay gives " +
              to_string(r.state));
    if (s.amount != r.amount)
      problem("reservation " + id + " holds " + num(s.amount) + ", replay gives " + num(r.amount));
    if (s.captured != r.captured)
      problem("reservation " + id + " captured " + num(s.captured) + ", replay gives " +
              num(r.captured));
    if (s.expires_at != r.expires_at)
      problem("reservation " + id + " expires_at differs from replay");
  }
  for (const auto& [id, r] : reservations_)
    if (!seen.count(id)) problem("reservation " + to_string(id) + " is missing");
}

}  // namespace baseledger::core
