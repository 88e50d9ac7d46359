// Value types of the ledger core: wallets, reservations, events and commands.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace baseledger::core {

using Amount = std::int64_t;
// A point in time or a duration in microseconds. The core never reads a clock:
// the caller passes the time in, so tests can step it at will.
using Micros = std::int64_t;

enum class EventKind : std::uint8_t { credit, debit, reserve, settle, cancel, extend, expire };
enum class ReservationState : std::uint8_t { active, settled, cancelled, expired };

const char* to_string(EventKind kind) noexcept;
const char* to_string(ReservationState state) noexcept;
std::optional<EventKind> parse_event_kind(std::string_view text) noexcept;
std::optional<ReservationState> parse_reservation_state(std::string_view text) noexcept;

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const Uuid& a, const Uuid& b) { return a.bytes == b.bytes; }
  friend bool operator!=(const Uuid& a, const Uuid& b) { return !(a == b); }
  friend bool operator<(const Uuid& a, const Uuid& b) { return a.bytes < b.bytes; }
};
std::string to_string(const Uuid& id);

// The projection row of one wallet, as stored after its last event.
struct WalletState {
  Amount balance = 0;   // credits - debits - captured
  Amount reserved = 0;  // sum of holds not yet closed by an event
  std::int64_t active_reservations = 0;
  std::int64_t last_seq = 0;
  std::optional<Micros> last_at;             // time of the last event; none before the first
  std::array<std::uint8_t, 32> last_hash{};  // hash of the last event (the chain's head)

  Amount available() const noexcept { return balance - reserved; }
};

struct Reservation {
  Uuid id;
  Amount amount = 0;    // held
  Amount captured = 0;  // set by settle
  ReservationState state = ReservationState::active;
  Micros expires_at = 0;
  Micros created_at = 0;
  Micros updated_at = 0;

  // An active hold whose time to live has passed no longer counts, sweep or not.
  bool lapsed_at(Micros now) const noexcept {
    return state == ReservationState::active && expires_at <= now;
  }
};

// One appended event; balance and reserved are the wallet's after it.
struct Event {
  std::int64_t seq = 0;
  EventKind kind = EventKind::credit;
  Amount amount = 0;
  std::optional<Uuid> reservation_id;
  Amount balance = 0;
  Amount reserved = 0;
  std::optional<Micros> expires_at;  // reserve and extend only
  Micros at = 0;
  bool from_command = false;            // false for expire events the call wrote on the side
  std::array<std::uint8_t, 32> hash{};  // set when the event is chained (see chain.hpp)
};

// A client's write request, after decoding and validation.
struct Command {
  EventKind kind = EventKind::credit;   // credit, debit, reserve, settle, cancel or extend
  Amount amount = 0;                    // credit, debit, reserve, settle
  Micros ttl = 0;                       // reserve, extend
  std::optional<Uuid> reservation_id;   // settle, cancel, extend
  std::optional<std::string> metadata;  // canonical JSON text of a jsonb object
};

}  // namespace baseledger::core
