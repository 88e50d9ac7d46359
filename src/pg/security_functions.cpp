// SQL entry points of access control and of the tamper-evident trail:
// ledger_grant, ledger_revoke, ledger_head, and the chain backfill that the
// 0.1.0 -> 0.2.0 update runs once.
#include "core/chain.hpp"
#include "core/errors.hpp"
#include "core/validate.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/error_wall.hpp"
#include "pg/settings.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg {
namespace {

spi::Query q_insert_grant = {
    "INSERT INTO ledger.grants (wallet_id, role_id, privilege, granted_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    4,
    {TEXTOID, REGROLEOID, TEXTOID, TIMESTAMPTZOID},
    nullptr};
spi::Query q_delete_grant = {
    "DELETE FROM ledger.grants WHERE wallet_id = $1 AND role_id = $2 AND privilege = $3",
    3,
    {TEXTOID, REGROLEOID, TEXTOID},
    nullptr};
spi::Query q_head = {
    "SELECT last_seq, last_hash FROM ledger.wallets WHERE wallet_id = $1", 1, {TEXTOID}, nullptr};
spi::Query q_event_hash = {"SELECT seq, hash FROM ledger.events WHERE wallet_id = $1 AND seq = $2",
                           2,
                           {TEXTOID, INT8OID},
                           nullptr};
spi::Query q_set_event_hash = {
    "UPDATE ledger.events SET hash = $3 WHERE wallet_id = $1 AND seq = $2",
    3,
    {TEXTOID, INT8OID, BYTEAOID},
    nullptr};
spi::Query q_set_wallet_head = {"UPDATE ledger.wallets SET last_hash = $2 WHERE wallet_id = $1",
                                2,
                                {TEXTOID, BYTEAOID},
                                nullptr};

struct GrantArgs {
  Oid role;
  std::string wallet_id;
  std::string privilege;
};

GrantArgs grant_args(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) core::throw_null_argument("role");
  GrantArgs out{PG_GETARG_OID(0), args::wallet_id(fcinfo, 1),
                args::required_text(fcinfo, 2, "privilege")};
  if (out.privilege != "read" && out.privilege != "spend")
    throw core::LedgerError(core::sqlstate::invalid_parameter_value, "invalid privilege",
                            "The privilege is \"" + out.privilege + "\".",
                            "A privilege is 'read' or 'spend' (which includes 'read').");
  return out;
}

// Inserts or deletes a grant; true when a row changed.
Datum change_grant(FunctionCallInfo fcinfo, spi::Query& q) {
  const GrantArgs a = grant_args(fcinfo);
  const storage::Session session = storage::connect();
  access::require(a.wallet_id, access::Need::admin);
  // The delete takes the first three.
  Datum args[4] = {storage::text_datum(a.wallet_id), ObjectIdGetDatum(a.role),
                   storage::text_datum(a.privilege), TimestampTzGetDatum(clock_now())};
  const uint64 n = spi::run(q, args, nullptr, false);
  storage::finish(session);
  return BoolGetDatum(n > 0);
}

}  // namespace
}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_grant(role, wallet_id, privilege): the role may read or spend from the
// wallet and every wallet under it.
BASELEDGER_SQL_FUNCTION(ledger_grant) {
  return guarded([&] { return change_grant(fcinfo, q_insert_grant); });
}

// ledger_revoke(role, wallet_id, privilege): removes such a grant.
BASELEDGER_SQL_FUNCTION(ledger_revoke) {
  return guarded([&] { return change_grant(fcinfo, q_delete_grant); });
}

// ledger_head(wallet_id, seq): the last seq and the hash of the last event, or
// the hash of the event with the given seq (no row when there is none).
BASELEDGER_SQL_FUNCTION(ledger_head) {
  return guarded([&] {
    const std::string wallet_id = args::wallet_id(fcinfo, 0);
    const bool at_seq = PG_NARGS() > 1 && !PG_ARGISNULL(1);
    const std::int64_t seq = at_seq ? PG_GETARG_INT64(1) : 0;
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    const storage::Session session = storage::connect();
    access::require(wallet_id, access::Need::read);
    Datum args[2] = {storage::text_datum(wallet_id), Int64GetDatum(seq)};
    if (spi::run(q_head, args, nullptr, true) == 0)
      throw core::LedgerError(core::sqlstate::wallet_not_found, "wallet not found",
                              "No wallet \"" + wallet_id + "\" exists.");
    const uint64 rows = at_seq ? spi::run(q_event_hash, args, nullptr, true) : 1;
    pg_try([&] {
      if (rows == 0) return;
      spi::Row r = spi::row(0);
      Datum values[3];
      bool nulls[3] = {false, false, false};
      values[0] = args[0];
      values[1] = r.get(1, &nulls[1]);
      values[2] = r.get(2, &nulls[2]);
      // A wallet without events has no head hash.
      if (DatumGetInt64(values[1]) == 0) nulls[2] = true;
      auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
    storage::finish(session);
    return Datum(0);
  });
}

// ledger_chain_backfill(): chains the events written before 0.2.0. Run by the
// update script only, with the event log's UPDATE trigger disabled.
BASELEDGER_SQL_FUNCTION(ledger_chain_backfill) {
  return guarded([&] {
    const storage::Session session = storage::connect();
    std::int64_t chained = 0;
    for (const std::string& wallet_id : storage::all_wallet_ids()) {
      const Datum wallet = storage::text_datum(wallet_id);
      core::Hash head = core::genesis_hash;
      std::vector<std::pair<std::int64_t, core::Hash>> hashes;
      storage::for_each_event(wallet_id, [&](const storage::StoredEvent& e) {
        head = core::event_hash(head, wallet_id, e.event, e.request());
        hashes.emplace_back(e.event.seq, head);
      });
      for (const auto& [seq, hash] : hashes) {
        Datum args[3] = {wallet, Int64GetDatum(seq), storage::bytea_datum(hash.data(), 32)};
        spi::run(q_set_event_hash, args, nullptr, false);
        ++chained;
      }
      Datum args[2] = {wallet, storage::bytea_datum(head.data(), 32)};
      spi::run(q_set_wallet_head, args, nullptr, false);
    }
    storage::finish(session);
    return Int64GetDatum(chained);
  });
}
