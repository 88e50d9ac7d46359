// What reads report: balances and reservation states as of a given time.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace baseledger::core {

struct BalanceView {
  Amount balance = 0;
  Amount reserved = 0;
  Amount available = 0;
  std::int64_t active_reservations = 0;
};

// lapsed_amount and lapsed_count describe the active holds whose expires_at
// has passed but that no event has closed yet: they no longer count;
// lapsed_captured is the part of them whose on_expire is 'capture', charged
// to the balance as their expire events will.
BalanceView balance_view(const WalletState& wallet, Amount lapsed_amount, std::int64_t lapsed_count,
                         Amount lapsed_captured = 0);

// The state a reader sees: an active hold past its expires_at is 'expired'.
ReservationState effective_state(const Reservation& r, Micros now);

}  // namespace baseledger::core
