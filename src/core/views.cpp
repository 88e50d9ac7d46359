// Read-side views of the projection.
#include "core/views.hpp"

#include "core/checked.hpp"

namespace baseledger::core {

BalanceView balance_view(const WalletState& wallet, Amount lapsed_amount, std::int64_t lapsed_count,
                         Amount lapsed_captured) {
  BalanceView v;
  v.balance = checked_sub(wallet.balance, lapsed_captured);
  v.reserved = checked_sub(wallet.reserved, lapsed_amount);
  v.available = checked_sub(v.balance, v.reserved);
  v.active_reservations = wallet.active_reservations - lapsed_count;
  return v;
}

ReservationState effective_state(const Reservation& r, Micros now) {
  return r.lapsed_at(now) ? ReservationState::expired : r.state;
}

}  // namespace baseledger::core
