// SQL entry points that read: balance, reservation, history. They read on the
// calling statement's snapshot and take no lock.
#include "core/errors.hpp"
#include "core/validate.hpp"
#include "core/views.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/error_wall.hpp"
#include "pg/results.hpp"
#include "pg/settings.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg {
namespace {

[[noreturn]] void wallet_not_found(const std::string& wallet_id) {
  throw core::LedgerError(core::sqlstate::wallet_not_found, "wallet not found",
                          "No wallet \"" + wallet_id + "\" exists.");
}

}  // namespace
}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_balance(wallet_id): balance, reserved and available now.
BASELEDGER_SQL_FUNCTION(ledger_balance) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const core::Micros now = clock_now();
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::read);
    std::optional<storage::BalanceRow> row = storage::load_balance(wallet_id, now, true);
    storage::finish(session);
    if (!row) wallet_not_found(wallet_id);
    const core::BalanceView view =
        core::balance_view(row->state, row->lapsed_amount, row->lapsed_count, row->lapsed_captured);
    return results::wallet_balance(fcinfo, wallet_id, row->unit, view, row->state.last_seq, now);
  });
}

// ledger_reservation(wallet_id, reservation_id): the reservation and its state now.
BASELEDGER_SQL_FUNCTION(ledger_reservation) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const core::Uuid id = args::required_uuid(fcinfo, 1, "reservation_id");
    const core::Micros now = clock_now();
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::read);
    const bool exists = storage::wallet_exists(wallet_id, true);
    std::optional<core::Reservation> r =
        exists ? storage::load_reservation(wallet_id, id, true) : std::nullopt;
    storage::finish(session);
    if (!exists) wallet_not_found(wallet_id);
    if (!r)
      throw core::LedgerError(
          core::sqlstate::reservation_not_found, "reservation not found",
          "No reservation " + core::to_string(id) + " exists in wallet \"" + wallet_id + "\".");
    return results::reservation_status(fcinfo, wallet_id, *r, now);
  });
}

// ledger_history(wallet_id, after_seq, max_rows): a page of events in seq order.
BASELEDGER_SQL_FUNCTION(ledger_history) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const std::int64_t after_seq = args::required_int64(fcinfo, 1, "after_seq");
    const std::int32_t max_rows = args::required_int32(fcinfo, 2, "max_rows");
    core::validate_history_page(after_seq, max_rows);
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::read);
    if (!storage::wallet_exists(wallet_id, true)) wallet_not_found(wallet_id);
    storage::put_history(fcinfo, wallet_id, after_seq, max_rows);
    storage::finish(session);
    return Datum(0);
  });
}
