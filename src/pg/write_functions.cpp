// SQL entry points that write: create a wallet, credit, debit, reserve, settle,
// cancel, extend. One path for all of them:
//   decode -> lock -> load -> replay or decide (core) -> persist -> encode.
#include <cstring>
#include <limits>

#include "core/decide.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"
#include "core/validate.hpp"
#include "core/views.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/error_wall.hpp"
#include "pg/locks.hpp"
#include "pg/results.hpp"
#include "pg/settings.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg {

namespace {

using core::EventKind;
using core::LedgerError;
namespace sqlstate = core::sqlstate;

// A decoded, validated write request.
struct WriteCall {
  std::string wallet_id;
  std::string key;
  core::Command command;
  args::Metadata metadata;
};

[[noreturn]] void wallet_not_found(const std::string& wallet_id) {
  if (storage::wallet_created_after_snapshot(wallet_id))
    throw LedgerError(sqlstate::serialization_failure,
                      "could not serialize access due to a concurrently created wallet",
                      "Wallet \"" + wallet_id + "\" was created after this transaction's snapshot.",
                      "Retry the transaction.");
  throw LedgerError(sqlstate::wallet_not_found, "wallet not found",
                    "No wallet \"" + wallet_id + "\" exists.",
                    "Create it with ledger_create_wallet.");
}

// Runs a validated write under the wallet's lock and returns its ledger_result.
Datum execute_write(FunctionCallInfo fcinfo, const WriteCall& call) {
  const core::Fingerprint fingerprint = core::fingerprint(call.command);
  const storage::Session session = storage::connect();
  access::require(call.wallet_id, call.command.kind == EventKind::credit ? access::Need::admin
                                                                         : access::Need::spend);
  lock_wallet(core::wallet_lock_key(call.wallet_id));
  const core::Micros clock = clock_now();
  std::optional<storage::WalletRow> wallet = storage::load_wallet_for_write(call.wallet_id);
  if (!wallet) wallet_not_found(call.wallet_id);

  // The idempotency shield: a known key replays its event or is refused.
  if (const std::optional<storage::KeyedEvent> prior =
          storage::find_event_by_key(call.wallet_id, call.key)) {
    if (prior->fingerprint != fingerprint)
      throw LedgerError(
          sqlstate::idempotency_conflict, "idempotency key already used with different arguments",
          "Key \"" + call.key + "\" was used by the " + core::to_string(prior->event.kind) +
              " event with seq " + std::to_string(prior->event.seq) + " of wallet \"" +
              call.wallet_id + "\".",
          "Retry a request with its original arguments, or use a new key for a "
          "new request.");
    storage::finish(session);
    return results::ledger_result(fcinfo, call.wallet_id, prior->event, true);
  }

  core::WriteInput input;
  input.wallet = wallet->state;
  input.clock = clock;
  if (call.command.reservation_id)
    input.target = storage::load_reservation(call.wallet_id, *call.command.reservation_id);
  input.max_active_reservations = max_active_reservations();
  input.due = storage::load_due(call.wallet_id,
                                core::next_event_time(input.wallet, clock) + core::due_margin,
                                std::numeric_limits<std::int64_t>::max());
  if (call.command.kind == EventKind::reserve)
    input.new_reservation_id = storage::new_reservation_id();

  const core::Decision decision = core::decide(input, &call.command);

  storage::CommandRecord record;
  record.idempotency_key = &call.key;
  record.fingerprint = &fingerprint;
  record.metadata = call.metadata.datum;
  record.metadata_null = call.metadata.is_null;
  record.metadata_text = call.metadata.canonical ? &*call.metadata.canonical : nullptr;
  storage::persist(call.wallet_id, decision, record);
  storage::finish(session);
  return results::ledger_result(fcinfo, call.wallet_id, decision.events.back(), false);
}

// Decodes the arguments common to every write and runs it.
template <typename Fill>
Datum write_entry(FunctionCallInfo fcinfo, EventKind kind, int key_arg, int metadata_arg,
                  Fill&& fill) {
  return guarded([&] {
    WriteCall call;
    call.wallet_id = args::wallet_id(fcinfo, 0);
    call.command.kind = kind;
    fill(call.command);
    call.key = args::idempotency_key(fcinfo, key_arg);
    if (metadata_arg >= 0) {
      call.metadata = args::metadata(fcinfo, metadata_arg);
      call.command.metadata = call.metadata.canonical;
    }
    return execute_write(fcinfo, call);
  });
}

}  // namespace

}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_create_wallet(wallet_id, unit, metadata): creates the wallet or returns it.
BASELEDGER_SQL_FUNCTION(ledger_create_wallet) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const std::string unit = args::required_text(fcinfo, 1, "unit");
    core::validate_unit(unit);
    const args::Metadata metadata = args::metadata(fcinfo, 2);

    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::admin);
    lock_wallet(core::wallet_lock_key(wallet_id));
    const core::Micros now = clock_now();
    if (std::optional<storage::WalletRow> existing = storage::load_wallet_for_write(wallet_id)) {
      if (existing->unit != unit)
        throw core::LedgerError("42710", "wallet already exists with another unit",
                                "Wallet \"" + wallet_id + "\" counts in \"" + existing->unit +
                                    "\", not \"" + unit + "\".");
    } else {
      storage::insert_wallet(wallet_id, unit, now, metadata.datum, metadata.is_null);
    }
    std::optional<storage::BalanceRow> row = storage::load_balance(wallet_id, now, false);
    storage::finish(session);
    const core::BalanceView view =
        core::balance_view(row->state, row->lapsed_amount, row->lapsed_count);
    return results::wallet_balance(fcinfo, wallet_id, row->unit, view, row->state.last_seq, now);
  });
}

// ledger_credit(wallet_id, amount, idempotency_key, metadata): adds funds.
BASELEDGER_SQL_FUNCTION(ledger_credit) {
  return write_entry(fcinfo, core::EventKind::credit, 2, 3, [&](core::Command& c) {
    c.amount = args::required_int64(fcinfo, 1, "amount");
    core::validate_positive_amount("amount", c.amount);
  });
}

// ledger_debit(wallet_id, amount, idempotency_key, metadata): charges a known cost.
BASELEDGER_SQL_FUNCTION(ledger_debit) {
  return write_entry(fcinfo, core::EventKind::debit, 2, 3, [&](core::Command& c) {
    c.amount = args::required_int64(fcinfo, 1, "amount");
    core::validate_positive_amount("amount", c.amount);
  });
}

// ledger_reserve(wallet_id, amount, ttl, idempotency_key, metadata): holds funds.
BASELEDGER_SQL_FUNCTION(ledger_reserve) {
  return write_entry(fcinfo, core::EventKind::reserve, 3, 4, [&](core::Command& c) {
    c.amount = args::required_int64(fcinfo, 1, "amount");
    core::validate_positive_amount("amount", c.amount);
    c.ttl = args::ttl(fcinfo, 2);
  });
}

// ledger_settle(wallet_id, reservation_id, amount, idempotency_key, metadata):
// captures amount from the hold and releases the rest.
BASELEDGER_SQL_FUNCTION(ledger_settle) {
  return write_entry(fcinfo, core::EventKind::settle, 3, 4, [&](core::Command& c) {
    c.reservation_id = args::required_uuid(fcinfo, 1, "reservation_id");
    c.amount = args::required_int64(fcinfo, 2, "amount");
    core::validate_capture_amount(c.amount);
  });
}

// ledger_cancel(wallet_id, reservation_id, idempotency_key, metadata): releases the hold.
BASELEDGER_SQL_FUNCTION(ledger_cancel) {
  return write_entry(fcinfo, core::EventKind::cancel, 2, 3, [&](core::Command& c) {
    c.reservation_id = args::required_uuid(fcinfo, 1, "reservation_id");
  });
}

// ledger_extend(wallet_id, reservation_id, ttl, idempotency_key): the hold now
// expires ttl from now.
BASELEDGER_SQL_FUNCTION(ledger_extend) {
  return write_entry(fcinfo, core::EventKind::extend, 3, -1, [&](core::Command& c) {
    c.reservation_id = args::required_uuid(fcinfo, 1, "reservation_id");
    c.ttl = args::ttl(fcinfo, 2);
  });
}
