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
  bool capture_on_expire = false;  // on_expire => 'capture': an expiry charges the hold

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
  bool allow_overage = false;           // settle: may capture more than was held
  bool capture_on_expire = false;       // reserve: on_expire => 'capture'
};

// Calendar periods of a limit.
enum class Period : std::uint8_t { minute, hour, day, week, month };
const char* to_string(Period period) noexcept;
std::optional<Period> parse_period(std::string_view text) noexcept;

// What bounds a wallet besides its balance. None of it is an event: it is
// the wallet's configuration, set by an administrator.
struct Policy {
  bool capped = true;    // false: no budget of its own, only its ancestors bound it
  Amount overdraft = 0;  // available may go down to -overdraft
  std::optional<std::int64_t> max_active;  // active holds allowed in the subtree
};

// One period limit of a wallet and its use in the current period
// [period_start, period_end) (computed by the caller in the ledger's time zone).
struct LimitUsage {
  Period period = Period::day;
  std::optional<Amount> max_amount;
  std::optional<std::int64_t> max_requests;
  Amount used_amount = 0;
  std::int64_t used_requests = 0;
  Micros period_start = 0;
  Micros period_end = 0;

  bool contains(Micros t) const noexcept { return t >= period_start && t < period_end; }
};

}  // namespace baseledger::core
