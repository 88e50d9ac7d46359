// The ledger's decisions: given the state of the wallets a call touches and a
// command, the events to append and the states after them, or a LedgerError.
// No I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace baseledger::core {

// How far past the call's time callers load due holds: each step of a call
// (an expiry, then the command) takes the next microsecond, so a call that
// closes n holds judges its command n microseconds later, and holds lapsing
// in between must be closed too.
inline constexpr Micros due_margin = 1000000;

// Time of the next event in a wallet: the clock, or 1 microsecond after the
// wallet's last event when the clock is behind it, so `at` strictly increases.
Micros next_event_time(const WalletState& wallet, Micros clock);

// The id a wallet's parent has when it has one ("a/b" for "a/b/c"); empty
// for an id without '/'. (Wallets created before 0.3.0 are roots whatever
// their ids: Level::parent_id says which.)
std::string parent_of(const std::string& wallet_id);
// Depth of a wallet: 1 for a root.
std::size_t depth_of(const std::string& wallet_id);

// One wallet a call may write.
struct Level {
  std::string wallet_id;
  std::string parent_id;  // empty for a root
  WalletState state;
  Policy policy;
  bool has_limits = false;         // the wallet has period limits
  bool has_alerts = false;         // the wallet has alert rules (evaluated after a write)
  std::vector<LimitUsage> limits;  // their use now; loaded for the command's path only
};

// An active hold that may have lapsed, with the index of its owner in
// TreeInput::wallets.
struct DueHold {
  Reservation hold;
  std::size_t owner = 0;
};

struct TreeInput {
  // Every wallet the call may write. wallets[0, path_size) is the command's
  // path, root first, the command's wallet last; the wallets after it own due
  // holds elsewhere in the tree, or are ancestors of such owners.
  std::vector<Level> wallets;
  std::size_t path_size = 1;
  // Active holds anywhere in the tree with expires_at up to
  // command_time(...) + due_margin. Each one lapsed by its step's time gets
  // its expire event, at its owner and every ancestor, before the command.
  std::vector<DueHold> due;
  // The reservation a settle, cancel or extend names, if the command's wallet owns it.
  std::optional<Reservation> target;
  Micros clock = 0;
  Uuid new_reservation_id;  // used by reserve
  // A reserve is refused (54000) when its wallet already owns this many
  // active holds: a client cannot grow the tables without bound.
  std::int64_t max_active_reservations = INT64_MAX;
};

// A change to a wallet's period use: admitted_at selects the period (the
// reserve's or debit's time, or the reservation's created_at).
struct UsageDelta {
  std::size_t wallet = 0;
  Micros admitted_at = 0;
  Amount amount = 0;
  std::int64_t requests = 0;
};

struct TreeDecision {
  std::vector<Level> wallets;              // states after the call (limits' use too)
  std::vector<std::vector<Event>> events;  // per wallet, in seq order
  std::vector<Reservation> reservations;   // rows to insert or update
  std::vector<std::size_t> reservation_owner;
  std::vector<bool> reservation_is_new;
  std::vector<UsageDelta> usage;
  std::optional<std::size_t> command_wallet;  // where the command's event is (last of its events)
  Micros command_time = 0;

  const Event& command_event() const { return events[*command_wallet].back(); }
};

// The time of a call's first step: the clock, or 1 microsecond after the
// latest last event of the wallets it may write.
Micros first_step_time(const TreeInput& input);

// The time at which the command would be judged: after every due hold that
// lapses before it has been expired.
Micros command_time(const TreeInput& input);

// Expires the due holds, then applies command (when not null).
TreeDecision decide_tree(const TreeInput& input, const Command* command);

// --- one wallet alone (a root without children): the common case ---

struct Decision {
  std::vector<Event> events;              // in seq order; the command's event is last
  std::vector<Reservation> reservations;  // rows to insert or update
  std::vector<bool> reservation_is_new;   // parallel to reservations
  WalletState wallet;                     // the projection after the events
};

struct WriteInput {
  WalletState wallet;
  Policy policy;
  // Active holds of the wallet that may have lapsed by the time the call's
  // events carry: those with expires_at up to next_event_time(wallet, clock)
  // plus due_margin. Each one lapsed by then gets its expire event first.
  std::vector<Reservation> due;
  // The reservation a settle, cancel or extend names, if it exists in this wallet.
  std::optional<Reservation> target;
  Micros clock = 0;
  Uuid new_reservation_id;  // used by reserve
  std::int64_t max_active_reservations = INT64_MAX;
};

// Expires the due holds, then applies command (when not null). A wallet
// without period limits and without a parent or children.
Decision decide(const WriteInput& input, const Command* command);

}  // namespace baseledger::core
