// SQL entry points that write: create a wallet, credit, debit, reserve, settle,
// cancel, extend. One path for all of them:
//   decode -> lock -> load -> replay or decide (core) -> persist -> encode.
#include <cstring>
#include <limits>

#include "core/decide.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"
#include "core/limits.hpp"
#include "core/validate.hpp"
#include "core/views.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/error_wall.hpp"
#include "pg/locks.hpp"
#include "pg/results.hpp"
#include "pg/settings.hpp"
#include "pg/storage.hpp"
#include "pg/tree_write.hpp"

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

// Runs a validated write under its path's locks and returns its ledger_result.
Datum execute_write(FunctionCallInfo fcinfo, const WriteCall& call) {
  const core::Fingerprint fingerprint = core::fingerprint(call.command);
  const storage::Session session = storage::connect();
  access::require(call.wallet_id, call.command.kind == EventKind::credit ? access::Need::admin
                                                                         : access::Need::spend);
  tree_write::lock_path(call.wallet_id);
  const tree_write::Prepared prepared =
      tree_write::prepare(call.wallet_id, call.key, call.command, fingerprint);
  if (prepared.replayed) {
    storage::finish(session);
    return results::ledger_result(fcinfo, call.wallet_id, prepared.replayed_event, true);
  }
  storage::CommandRecord record;
  record.idempotency_key = &call.key;
  record.fingerprint = &fingerprint;
  record.metadata = call.metadata.datum;
  record.metadata_null = call.metadata.is_null;
  record.metadata_text = call.metadata.canonical ? &*call.metadata.canonical : nullptr;
  tree_write::store(prepared, record);
  storage::finish(session);
  return results::ledger_result(fcinfo, call.wallet_id, prepared.decision.command_event(), false);
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

// ledger_create_wallet(wallet_id, unit, metadata, capped): creates the wallet
// (a child under its existing parent) or returns it unchanged.
BASELEDGER_SQL_FUNCTION(ledger_create_wallet) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const std::string unit = args::required_text(fcinfo, 1, "unit");
    core::validate_unit(unit);
    const args::Metadata metadata = args::metadata(fcinfo, 2);
    const bool capped = PG_NARGS() > 3 ? args::required_bool(fcinfo, 3, "capped") : true;
    const std::string parent = core::parent_of(wallet_id);
    if (core::depth_of(wallet_id) > core::limits::wallet_depth_max)
      throw LedgerError(sqlstate::invalid_parameter_value, "wallet path too deep",
                        "The wallet id has " + std::to_string(core::depth_of(wallet_id)) +
                            " segments; the limit is " +
                            std::to_string(core::limits::wallet_depth_max) + ".");
    if (!capped && parent.empty())
      throw LedgerError(sqlstate::invalid_parameter_value, "a root wallet cannot be uncapped",
                        "Wallet \"" + wallet_id + "\" has no parent to bound it.",
                        "Create it capped, or under a parent.");

    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::admin);
    tree_write::lock_path(wallet_id);
    const core::Micros now = clock_now();
    if (std::optional<storage::WalletRow> existing = storage::load_wallet_for_write(wallet_id)) {
      if (existing->unit != unit)
        throw LedgerError(sqlstate::duplicate_object, "wallet already exists with another unit",
                          "Wallet \"" + wallet_id + "\" counts in \"" + existing->unit +
                              "\", not \"" + unit + "\".");
      if (existing->policy.capped != capped)
        throw LedgerError(
            sqlstate::duplicate_object,
            capped ? "wallet already exists uncapped" : "wallet already exists capped",
            "Wallet \"" + wallet_id +
                "\" exists with capped = " + (existing->policy.capped ? "true" : "false") + ".");
    } else {
      std::string root_id;
      if (!parent.empty()) {
        std::optional<storage::WalletRow> up = storage::load_wallet_for_write(parent);
        if (!up)
          throw LedgerError(sqlstate::wallet_not_found, "parent wallet not found",
                            "No wallet \"" + parent + "\" exists to hold \"" + wallet_id + "\".",
                            "Create the parent first.");
        if (up->unit != unit)
          throw LedgerError(
              sqlstate::invalid_parameter_value, "unit differs from the parent wallet",
              "Wallet \"" + parent + "\" counts in \"" + up->unit + "\", not \"" + unit + "\".");
        root_id = up->is_root(parent) ? parent : up->root_id;
      }
      if (storage::insert_wallet(wallet_id, unit, now, metadata.datum, metadata.is_null, capped,
                                 root_id) &&
          !parent.empty())
        storage::count_child(parent);
    }
    std::optional<storage::BalanceRow> row = storage::load_balance(wallet_id, now, false);
    storage::finish(session);
    const core::BalanceView view =
        core::balance_view(row->state, row->lapsed_amount, row->lapsed_count, row->lapsed_captured);
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

// ledger_reserve(wallet_id, amount, ttl, idempotency_key, metadata, on_expire):
// holds funds in the wallet and its ancestors.
BASELEDGER_SQL_FUNCTION(ledger_reserve) {
  return write_entry(fcinfo, core::EventKind::reserve, 3, 4, [&](core::Command& c) {
    c.amount = args::required_int64(fcinfo, 1, "amount");
    core::validate_positive_amount("amount", c.amount);
    c.ttl = args::ttl(fcinfo, 2);
    if (PG_NARGS() > 5) {
      const std::string on_expire = args::required_text(fcinfo, 5, "on_expire");
      c.capture_on_expire = core::parse_on_expire(on_expire);
    }
  });
}

// ledger_settle(wallet_id, reservation_id, amount, idempotency_key, metadata):
// captures amount from the hold and releases the rest.
BASELEDGER_SQL_FUNCTION(ledger_settle) {
  return write_entry(fcinfo, core::EventKind::settle, 3, 4, [&](core::Command& c) {
    c.reservation_id = args::required_uuid(fcinfo, 1, "reservation_id");
    c.amount = args::required_int64(fcinfo, 2, "amount");
    core::validate_capture_amount(c.amount);
    if (PG_NARGS() > 5) c.allow_overage = args::required_bool(fcinfo, 5, "allow_overage");
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
