// Sequencing of batch elements over per-wallet state.
#include "core/batch.hpp"

#include "core/errors.hpp"

namespace baseledger::core {

ElementOutcome apply_element(BatchWallet& wallet, int element, const std::string& key,
                             const Command& command, const Fingerprint& fingerprint, Micros clock,
                             const Uuid& new_reservation_id, std::int64_t max_active_reservations) {
  ElementOutcome out;
  auto known = wallet.keys.find(key);
  if (known != wallet.keys.end()) {
    if (known->second.fingerprint != fingerprint) {
      out.sqlstate = sqlstate::idempotency_conflict;
      out.message = "idempotency key already used with different arguments";
      return out;
    }
    out.event = known->second.event;
    out.replayed = true;
    return out;
  }

  WriteInput input;
  input.wallet = wallet.state;
  input.policy = wallet.policy;
  input.due = wallet.due;
  input.clock = clock;
  input.new_reservation_id = new_reservation_id;
  input.max_active_reservations = max_active_reservations;
  if (command.reservation_id) {
    auto it = wallet.reservations.find(*command.reservation_id);
    if (it != wallet.reservations.end()) input.target = it->second;
  }

  Decision decision;
  try {
    decision = decide(input, &command);
  } catch (const LedgerError& e) {
    out.sqlstate = e.sqlstate();
    out.message = e.what();
    return out;
  }

  // The element succeeded: its state is the next element's starting point.
  wallet.state = decision.wallet;
  // Holds loaded as due but not yet lapsed stay due for the next elements.
  std::vector<Reservation> still_due;
  for (const Reservation& r : wallet.due) {
    bool closed = false;
    for (const Reservation& c : decision.reservations) closed = closed || c.id == r.id;
    if (!closed) still_due.push_back(r);
  }
  wallet.due = std::move(still_due);
  for (const Event& e : decision.events) {
    wallet.events.push_back(e);
    wallet.event_elements.push_back(e.from_command ? element : -1);
  }
  for (std::size_t i = 0; i < decision.reservations.size(); ++i) {
    const Reservation& r = decision.reservations[i];
    wallet.reservations[r.id] = r;
    bool& inserted = wallet.changed_reservations[r.id];
    inserted = inserted || decision.reservation_is_new[i];
  }
  out.event = decision.events.back();
  wallet.keys[key] = KnownKey{out.event, fingerprint};
  return out;
}

}  // namespace baseledger::core
