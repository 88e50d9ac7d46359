// Bulk SPI statements over unnested arrays.
#include "pg/batch_storage.hpp"

#include "core/errors.hpp"
#include "pg/array_column.hpp"
#include "pg/error_wall.hpp"
#include "pg/relations.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"
#include "pg/write_set.hpp"

extern "C" {
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace baseledger::pg::batch_storage {

namespace {

using core::Micros;
using spi::Query;
using spi::row;
using spi::run;

Datum text_array(const std::vector<std::string>& items) {
  ArrayColumn col(TEXTOID, items.size());
  for (std::size_t i = 0; i < items.size(); ++i) col.set(i, storage::text_datum(items[i]));
  return col.build();
}

Query q_wallets_rc = {
    "SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at, "
    "last_hash, overdraft IS NOT NULL, coalesce(overdraft, 0), max_active, children = 0 AND NOT "
    "has_limits AND "
    "NOT has_alerts AND root_id = wallet_id, next_expiry, ctid FROM ledger.wallets WHERE wallet_id "
    "= ANY ($1)",
    1,
    {TEXTARRAYOID},
    nullptr};
Query q_wallets_rr = {
    "SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at, "
    "last_hash, overdraft IS NOT NULL, coalesce(overdraft, 0), max_active, children = 0 AND NOT "
    "has_limits AND "
    "NOT has_alerts AND root_id = wallet_id, next_expiry, ctid FROM ledger.wallets WHERE wallet_id "
    "= ANY ($1) FOR NO KEY UPDATE",
    1,
    {TEXTARRAYOID},
    nullptr};
Query q_keys = {
    "SELECT e.wallet_id, e.idempotency_key, e.seq, e.kind::text, e.amount, e.reservation_id, "
    "e.balance, e.reserved, e.expires_at, e.at, e.fingerprint "
    "FROM unnest($1::text[], $2::text[]) AS k(wallet_id, idempotency_key) "
    "JOIN ledger.events e ON e.wallet_id = k.wallet_id AND e.idempotency_key = k.idempotency_key",
    2,
    {TEXTARRAYOID, TEXTARRAYOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};
Query q_due = {
    "SELECT r.wallet_id, r.reservation_id, r.amount, r.captured, r.expires_at, r.created_at, "
    "r.updated_at, r.capture_on_expire FROM ledger.reservations r "
    "WHERE r.wallet_id = ANY ($1) AND r.state = 'active' AND r.expires_at <= $2",
    2,
    {TEXTARRAYOID, TIMESTAMPTZOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};
Query q_reservations = {
    "SELECT r.wallet_id, r.reservation_id, r.amount, r.captured, r.expires_at, r.created_at, "
    "r.updated_at, r.state::text, r.capture_on_expire "
    "FROM unnest($1::text[], $2::uuid[]) AS t(wallet_id, reservation_id) "
    "JOIN ledger.reservations r "
    "ON r.wallet_id = t.wallet_id AND r.reservation_id = t.reservation_id",
    2,
    {TEXTARRAYOID, UUIDARRAYOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};

}  // namespace

void load_wallets(const std::vector<std::string>& wallet_ids, Wallets* wallets) {
  Datum args[1] = {text_array(wallet_ids)};
  Query& q = IsolationUsesXactSnapshot() ? q_wallets_rr : q_wallets_rc;
  uint64 n = run(q, args, nullptr, false);
  std::vector<char*> ids(n, nullptr);
  std::vector<core::WalletState> states(n);
  std::vector<core::Policy> policies(n);
  std::vector<char> alone(n, 1), has_next_expiry(n, 0);
  std::vector<Micros> next_expiry(n, 0);
  pg_try([&] {
    const Oid relid = relations::oid("wallets");
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      ids[i] = r.cstring_at(1);
      // Where the row is, for the update that follows (see relations.hpp).
      bool no_tid;
      Datum tid = r.get(14, &no_tid);
      if (!no_tid)
        relations::remember_row(relid, relations::key_hash(ids[i], std::strlen(ids[i]), nullptr),
                                reinterpret_cast<ItemPointer>(DatumGetPointer(tid)));
      states[i].balance = r.int64_at(3);
      states[i].reserved = r.int64_at(4);
      states[i].active_reservations = r.int64_at(5);
      states[i].last_seq = r.int64_at(6);
      Micros at;
      if (r.timestamp_at(7, &at)) states[i].last_at = at;
      r.bytes_at(8, states[i].last_hash.data(), states[i].last_hash.size());
      policies[i].capped = r.bool_at(9);
      policies[i].overdraft = r.int64_at(10);
      bool isnull;
      Datum d = r.get(11, &isnull);
      if (!isnull) policies[i].max_active = DatumGetInt32(d);
      alone[i] = r.bool_at(12);
      has_next_expiry[i] = r.timestamp_at(13, &next_expiry[i]);
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    core::BatchWallet& w = (*wallets)[ids[i]];
    w.state = states[i];
    w.policy = policies[i];
    w.stands_alone = alone[i];
    w.next_expiry = std::nullopt;
    if (states[i].active_reservations == 0)
      w.next_expiry = storage::no_expiry;
    else if (has_next_expiry[i])
      w.next_expiry = next_expiry[i];
  }
}

void load_keys(const std::vector<std::string>& wallet_ids, const std::vector<std::string>& keys,
               Wallets* wallets) {
  Datum args[2] = {text_array(wallet_ids), text_array(keys)};
  uint64 n = run(q_keys, args, nullptr, false);
  std::vector<char*> ids(n, nullptr), key_texts(n, nullptr), kinds(n, nullptr);
  std::vector<core::KnownKey> known(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      ids[i] = r.cstring_at(1);
      key_texts[i] = r.cstring_at(2);
      core::Event& e = known[i].event;
      e.seq = r.int64_at(3);
      kinds[i] = r.cstring_at(4);
      e.amount = r.int64_at(5);
      bool has_rid;
      core::Uuid rid;
      r.uuid_at(6, &rid, &has_rid);
      if (has_rid) e.reservation_id = rid;
      e.balance = r.int64_at(7);
      e.reserved = r.int64_at(8);
      Micros expires_at;
      if (r.timestamp_at(9, &expires_at)) e.expires_at = expires_at;
      r.timestamp_at(10, &e.at);
      bool isnull;
      Datum fp = r.get(11, &isnull);
      if (!isnull) {
        bytea* b = DatumGetByteaPP(fp);
        if (VARSIZE_ANY_EXHDR(b) == known[i].fingerprint.size())
          std::memcpy(known[i].fingerprint.data(), VARDATA_ANY(b), known[i].fingerprint.size());
      }
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    known[i].event.kind = storage::event_kind_of(kinds[i]);
    known[i].event.from_command = true;
    (*wallets)[ids[i]].keys[key_texts[i]] = known[i];
  }
}

void load_due(Micros now, Wallets* wallets, bool trust_next_expiry) {
  std::vector<std::string> ids;
  // A wallet without active holds has none due, nor one whose next expiry
  // is later. A wallet whose holds are looked up has an unknown next expiry
  // from then on (this lookup reads the due ones only).
  for (auto& [id, w] : *wallets) {
    if (w.state.active_reservations == 0) continue;
    if (trust_next_expiry && w.next_expiry && now < *w.next_expiry) continue;
    ids.push_back(id);
    w.next_expiry = std::nullopt;
  }
  if (ids.empty()) return;
  Datum args[2] = {text_array(ids), TimestampTzGetDatum(now)};
  uint64 n = run(q_due, args, nullptr, false);
  std::vector<char*> owners(n, nullptr);
  std::vector<core::Reservation> due(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      owners[i] = r.cstring_at(1);
      storage::read_reservation_columns(r, 2, &due[i]);
      due[i].capture_on_expire = r.bool_at(8);
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    core::BatchWallet& w = (*wallets)[owners[i]];
    w.due.push_back(due[i]);
    w.reservations[due[i].id] = due[i];
  }
}

void load_reservations(const std::vector<std::string>& wallet_ids,
                       const std::vector<core::Uuid>& ids, Wallets* wallets) {
  ArrayColumn uuids(UUIDOID, ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) uuids.set(i, storage::uuid_datum(ids[i]));
  Datum args[2] = {text_array(wallet_ids), uuids.build()};
  uint64 n = run(q_reservations, args, nullptr, false);
  std::vector<char*> owners(n, nullptr), states(n, nullptr);
  std::vector<core::Reservation> found(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      owners[i] = r.cstring_at(1);
      storage::read_reservation_columns(r, 2, &found[i]);
      states[i] = r.cstring_at(8);
      found[i].capture_on_expire = r.bool_at(9);
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    found[i].state = storage::state_of(states[i]);
    (*wallets)[owners[i]].reservations[found[i].id] = found[i];
  }
}

void persist(const Wallets& wallets, const std::vector<ElementRecord>& elements) {
  WriteSet set;
  for (const auto& [id, w] : wallets) {
    if (w.events.empty()) continue;
    set.wallets.push_back({&id, w.state, w.next_expiry});
    for (std::size_t k = 0; k < w.events.size(); ++k) {
      WriteSet::EventRow row{&id, &w.events[k]};
      const int element = w.event_elements[k];
      if (element >= 0) {
        const ElementRecord& rec = elements[element];
        row.idempotency_key = rec.idempotency_key;
        row.fingerprint = rec.fingerprint;
        row.metadata = rec.metadata;
        row.metadata_null = rec.metadata_null;
        row.metadata_text = rec.metadata_text;
      }
      set.events.push_back(row);
    }
    for (const auto& [res_id, inserted] : w.changed_reservations)
      (inserted ? set.inserted : set.updated).push_back({&id, &w.reservations.at(res_id)});
  }
  if (!set.wallets.empty()) write(set);
}

}  // namespace baseledger::pg::batch_storage
