// The ledger's decisions: given a wallet's state and a command, the events to
// append and the state after them, or a LedgerError. No I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/types.hpp"

namespace baseledger::core {

// How far past the first event's time callers load due holds: each expire
// event takes a microsecond, so a call that closes n holds writes its own
// event n microseconds later, and holds lapsing in between must be closed too.
inline constexpr Micros due_margin = 1000000;

// Time of the next event in a wallet: the clock, or 1 microsecond after the
// wallet's last event when the clock is behind it, so `at` strictly increases.
Micros next_event_time(const WalletState& wallet, Micros clock);

struct Decision {
  std::vector<Event> events;              // in seq order; the command's event is last
  std::vector<Reservation> reservations;  // rows to insert or update
  std::vector<bool> reservation_is_new;   // parallel to reservations
  WalletState wallet;                     // the projection after the events
};

struct WriteInput {
  WalletState wallet;
  // Active holds of the wallet that may have lapsed by the time the call's
  // events carry: those with expires_at up to next_event_time(wallet, clock)
  // plus due_margin. Each one lapsed by then gets its expire event first.
  std::vector<Reservation> due;
  // The reservation a settle, cancel or extend names, if it exists in this wallet.
  std::optional<Reservation> target;
  Micros clock = 0;
  Uuid new_reservation_id;  // used by reserve
  // A reserve is refused (54000) when the wallet already has this many
  // active holds: a client cannot grow the tables without bound.
  std::int64_t max_active_reservations = INT64_MAX;
};

// Expires the due holds, then applies command (when not null).
Decision decide(const WriteInput& input, const Command* command);

}  // namespace baseledger::core
