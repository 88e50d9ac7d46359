// Bulk SPI statements over unnested arrays.
#include "pg/batch_storage.hpp"

#include "core/errors.hpp"
#include "pg/error_wall.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace baseledger::pg::batch_storage {

namespace {

using core::Micros;
using spi::Query;
using spi::row;
using spi::run;

// A one-dimensional array under construction, in palloc'd memory.
class ArrayColumn {
 public:
  ArrayColumn(Oid type, std::size_t n) : type_(type), n_(n) {
    pg_try([&] {
      get_typlenbyvalalign(type, &typlen_, &byval_, &align_);
      values_ = static_cast<Datum*>(palloc0(sizeof(Datum) * (n ? n : 1)));
      nulls_ = static_cast<bool*>(palloc0(sizeof(bool) * (n ? n : 1)));
    });
  }
  void set(std::size_t i, Datum d) { values_[i] = d; }
  void set_null(std::size_t i) { nulls_[i] = true; }
  Datum build() const {
    return pg_call([&] {
      int dims[1] = {static_cast<int>(n_)};
      int lbs[1] = {1};
      return PointerGetDatum(
          construct_md_array(values_, nulls_, 1, dims, lbs, type_, typlen_, byval_, align_));
    });
  }

 private:
  Oid type_;
  std::size_t n_;
  int16 typlen_ = 0;
  bool byval_ = false;
  char align_ = 'i';
  Datum* values_ = nullptr;
  bool* nulls_ = nullptr;
};

Datum text_array(const std::vector<std::string>& items) {
  ArrayColumn col(TEXTOID, items.size());
  for (std::size_t i = 0; i < items.size(); ++i) col.set(i, storage::text_datum(items[i]));
  return col.build();
}

Query q_wallets_rc = {
    "SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at "
    "FROM ledger.wallets WHERE wallet_id = ANY ($1)",
    1,
    {TEXTARRAYOID},
    nullptr};
Query q_wallets_rr = {
    "SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at "
    "FROM ledger.wallets WHERE wallet_id = ANY ($1) FOR NO KEY UPDATE",
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
    nullptr};
Query q_due = {
    "SELECT r.wallet_id, r.reservation_id, r.amount, r.captured, r.expires_at, r.created_at, "
    "r.updated_at FROM ledger.reservations r "
    "WHERE r.wallet_id = ANY ($1) AND r.state = 'active' AND r.expires_at <= $2",
    2,
    {TEXTARRAYOID, TIMESTAMPTZOID},
    nullptr};
Query q_reservations = {
    "SELECT r.wallet_id, r.reservation_id, r.amount, r.captured, r.expires_at, r.created_at, "
    "r.updated_at, r.state::text "
    "FROM unnest($1::text[], $2::uuid[]) AS t(wallet_id, reservation_id) "
    "JOIN ledger.reservations r "
    "ON r.wallet_id = t.wallet_id AND r.reservation_id = t.reservation_id",
    2,
    {TEXTARRAYOID, UUIDARRAYOID},
    nullptr};
Query q_update_wallets = {
    "UPDATE ledger.wallets w SET balance = u.balance, reserved = u.reserved, "
    "active_reservations = u.active, last_seq = u.last_seq, last_at = u.last_at "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], "
    "$6::timestamptz[]) AS u(wallet_id, balance, reserved, active, last_seq, last_at) "
    "WHERE w.wallet_id = u.wallet_id",
    6,
    {TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID},
    nullptr};
Query q_insert_events = {
    "INSERT INTO ledger.events (wallet_id, seq, kind, amount, reservation_id, idempotency_key, "
    "fingerprint, balance, reserved, expires_at, at, metadata) "
    "SELECT wallet_id, seq, kind::ledger.event_kind, amount, reservation_id, idempotency_key, "
    "fingerprint, balance, reserved, expires_at, at, metadata "
    "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::uuid[], $6::text[], "
    "$7::bytea[], $8::bigint[], $9::bigint[], $10::timestamptz[], $11::timestamptz[], "
    "$12::jsonb[]) AS e(wallet_id, seq, kind, amount, reservation_id, idempotency_key, "
    "fingerprint, balance, reserved, expires_at, at, metadata)",
    12,
    {TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, UUIDARRAYOID, TEXTARRAYOID,
     BYTEAARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID,
     JSONBARRAYOID},
    nullptr};
Query q_insert_reservations = {
    "INSERT INTO ledger.reservations (wallet_id, reservation_id, amount, captured, state, "
    "expires_at, created_at, updated_at) "
    "SELECT wallet_id, reservation_id, amount, captured, state::ledger.reservation_state, "
    "expires_at, created_at, updated_at "
    "FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::bigint[], $5::text[], "
    "$6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) "
    "AS r(wallet_id, reservation_id, amount, captured, state, expires_at, created_at, updated_at)",
    8,
    {TEXTARRAYOID, UUIDARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID},
    nullptr};
Query q_update_reservations = {
    "UPDATE ledger.reservations r SET captured = u.captured, "
    "state = u.state::ledger.reservation_state, expires_at = u.expires_at, "
    "updated_at = u.updated_at "
    "FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::timestamptz[], "
    "$6::timestamptz[]) AS u(wallet_id, reservation_id, captured, state, expires_at, updated_at) "
    "WHERE r.wallet_id = u.wallet_id AND r.reservation_id = u.reservation_id",
    6,
    {TEXTARRAYOID, UUIDARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID},
    nullptr};

core::EventKind kind_of(const char* text) {
  auto kind = text ? core::parse_event_kind(text) : std::nullopt;
  if (!kind) throw core::LedgerError(core::sqlstate::internal_error, "unknown event kind");
  return *kind;
}

core::ReservationState state_of(const char* text) {
  auto state = text ? core::parse_reservation_state(text) : std::nullopt;
  if (!state) throw core::LedgerError(core::sqlstate::internal_error, "unknown reservation state");
  return *state;
}

// Reads reservation columns starting at `first`: id, amount, captured,
// expires_at, created_at, updated_at.
void read_reservation(const spi::Row& r, int first, core::Reservation* out) {
  bool present;
  r.uuid_at(first, &out->id, &present);
  out->amount = r.int64_at(first + 1);
  out->captured = r.int64_at(first + 2);
  r.timestamp_at(first + 3, &out->expires_at);
  r.timestamp_at(first + 4, &out->created_at);
  r.timestamp_at(first + 5, &out->updated_at);
}

}  // namespace

void load_wallets(const std::vector<std::string>& wallet_ids, Wallets* wallets) {
  Datum args[1] = {text_array(wallet_ids)};
  Query& q = IsolationUsesXactSnapshot() ? q_wallets_rr : q_wallets_rc;
  uint64 n = run(q, args, nullptr, false);
  std::vector<char*> ids(n, nullptr);
  std::vector<core::WalletState> states(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      ids[i] = r.cstring_at(1);
      states[i].balance = r.int64_at(3);
      states[i].reserved = r.int64_at(4);
      states[i].active_reservations = r.int64_at(5);
      states[i].last_seq = r.int64_at(6);
      Micros at;
      if (r.timestamp_at(7, &at)) states[i].last_at = at;
    }
  });
  for (uint64 i = 0; i < n; ++i) (*wallets)[ids[i]].state = states[i];
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
    known[i].event.kind = kind_of(kinds[i]);
    known[i].event.from_command = true;
    (*wallets)[ids[i]].keys[key_texts[i]] = known[i];
  }
}

void load_due(Micros now, Wallets* wallets) {
  std::vector<std::string> ids;
  for (const auto& [id, w] : *wallets) ids.push_back(id);
  Datum args[2] = {text_array(ids), TimestampTzGetDatum(now)};
  uint64 n = run(q_due, args, nullptr, false);
  std::vector<char*> owners(n, nullptr);
  std::vector<core::Reservation> due(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = row(i);
      owners[i] = r.cstring_at(1);
      read_reservation(r, 2, &due[i]);
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
      read_reservation(r, 2, &found[i]);
      states[i] = r.cstring_at(8);
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    found[i].state = state_of(states[i]);
    (*wallets)[owners[i]].reservations[found[i].id] = found[i];
  }
}

void persist(const Wallets& wallets, const std::vector<ElementRecord>& elements) {
  std::size_t n_wallets = 0, n_events = 0, n_new = 0, n_changed = 0;
  for (const auto& [id, w] : wallets) {
    if (w.events.empty()) continue;
    ++n_wallets;
    n_events += w.events.size();
    for (const auto& [rid, inserted] : w.changed_reservations) (inserted ? n_new : n_changed)++;
  }
  if (n_wallets == 0) return;

  // The projection first, as for single calls: under REPEATABLE READ a
  // concurrent change surfaces here as 40001.
  {
    ArrayColumn ids(TEXTOID, n_wallets), balance(INT8OID, n_wallets), reserved(INT8OID, n_wallets),
        active(INT4OID, n_wallets), last_seq(INT8OID, n_wallets),
        last_at(TIMESTAMPTZOID, n_wallets);
    std::size_t i = 0;
    for (const auto& [id, w] : wallets) {
      if (w.events.empty()) continue;
      ids.set(i, storage::text_datum(id));
      balance.set(i, Int64GetDatum(w.state.balance));
      reserved.set(i, Int64GetDatum(w.state.reserved));
      active.set(i, Int32GetDatum(static_cast<int32>(w.state.active_reservations)));
      last_seq.set(i, Int64GetDatum(w.state.last_seq));
      last_at.set(i, TimestampTzGetDatum(w.state.last_at.value_or(0)));
      ++i;
    }
    Datum args[6] = {ids.build(),    balance.build(),  reserved.build(),
                     active.build(), last_seq.build(), last_at.build()};
    if (run(q_update_wallets, args, nullptr, false) != n_wallets)
      throw core::LedgerError(core::sqlstate::internal_error, "wallet row vanished during a write");
  }

  {
    ArrayColumn wallet(TEXTOID, n_events), seq(INT8OID, n_events), kind(TEXTOID, n_events),
        amount(INT8OID, n_events), rid(UUIDOID, n_events), key(TEXTOID, n_events),
        fp(BYTEAOID, n_events), balance(INT8OID, n_events), reserved(INT8OID, n_events),
        expires_at(TIMESTAMPTZOID, n_events), at(TIMESTAMPTZOID, n_events),
        metadata(JSONBOID, n_events);
    std::size_t i = 0;
    for (const auto& [id, w] : wallets) {
      if (w.events.empty()) continue;
      const Datum wallet_datum = storage::text_datum(id);
      for (std::size_t k = 0; k < w.events.size(); ++k, ++i) {
        const core::Event& e = w.events[k];
        wallet.set(i, wallet_datum);
        seq.set(i, Int64GetDatum(e.seq));
        kind.set(i, storage::text_datum(core::to_string(e.kind)));
        amount.set(i, Int64GetDatum(e.amount));
        if (e.reservation_id)
          rid.set(i, storage::uuid_datum(*e.reservation_id));
        else
          rid.set_null(i);
        balance.set(i, Int64GetDatum(e.balance));
        reserved.set(i, Int64GetDatum(e.reserved));
        if (e.expires_at)
          expires_at.set(i, TimestampTzGetDatum(*e.expires_at));
        else
          expires_at.set_null(i);
        at.set(i, TimestampTzGetDatum(e.at));
        const int element = w.event_elements[k];
        if (element < 0) {
          key.set_null(i);
          fp.set_null(i);
          metadata.set_null(i);
          continue;
        }
        const ElementRecord& rec = elements[element];
        key.set(i, storage::text_datum(*rec.idempotency_key));
        fp.set(i, storage::bytea_datum(rec.fingerprint->data(), rec.fingerprint->size()));
        if (rec.metadata_null)
          metadata.set_null(i);
        else
          metadata.set(i, rec.metadata);
      }
    }
    Datum args[12] = {wallet.build(),   seq.build(),        kind.build(), amount.build(),
                      rid.build(),      key.build(),        fp.build(),   balance.build(),
                      reserved.build(), expires_at.build(), at.build(),   metadata.build()};
    try {
      run(q_insert_events, args, nullptr, false);
    } catch (const PgError& err) {
      if (err.sqlerrcode() == ERRCODE_UNIQUE_VIOLATION)
        throw core::LedgerError(core::sqlstate::serialization_failure,
                                "could not serialize access due to a concurrent write",
                                "Another transaction wrote the same event concurrently.",
                                "Retry the call with the same idempotency keys.");
      throw;
    }
  }

  if (n_new > 0) {
    ArrayColumn wallet(TEXTOID, n_new), rid(UUIDOID, n_new), amount(INT8OID, n_new),
        captured(INT8OID, n_new), state(TEXTOID, n_new), expires_at(TIMESTAMPTZOID, n_new),
        created_at(TIMESTAMPTZOID, n_new), updated_at(TIMESTAMPTZOID, n_new);
    std::size_t i = 0;
    for (const auto& [id, w] : wallets)
      for (const auto& [res_id, inserted] : w.changed_reservations) {
        if (!inserted) continue;
        const core::Reservation& r = w.reservations.at(res_id);
        wallet.set(i, storage::text_datum(id));
        rid.set(i, storage::uuid_datum(r.id));
        amount.set(i, Int64GetDatum(r.amount));
        captured.set(i, Int64GetDatum(r.captured));
        state.set(i, storage::text_datum(core::to_string(r.state)));
        expires_at.set(i, TimestampTzGetDatum(r.expires_at));
        created_at.set(i, TimestampTzGetDatum(r.created_at));
        updated_at.set(i, TimestampTzGetDatum(r.updated_at));
        ++i;
      }
    Datum args[8] = {wallet.build(), rid.build(),        amount.build(),     captured.build(),
                     state.build(),  expires_at.build(), created_at.build(), updated_at.build()};
    run(q_insert_reservations, args, nullptr, false);
  }

  if (n_changed > 0) {
    ArrayColumn wallet(TEXTOID, n_changed), rid(UUIDOID, n_changed), captured(INT8OID, n_changed),
        state(TEXTOID, n_changed), expires_at(TIMESTAMPTZOID, n_changed),
        updated_at(TIMESTAMPTZOID, n_changed);
    std::size_t i = 0;
    for (const auto& [id, w] : wallets)
      for (const auto& [res_id, inserted] : w.changed_reservations) {
        if (inserted) continue;
        const core::Reservation& r = w.reservations.at(res_id);
        wallet.set(i, storage::text_datum(id));
        rid.set(i, storage::uuid_datum(r.id));
        captured.set(i, Int64GetDatum(r.captured));
        state.set(i, storage::text_datum(core::to_string(r.state)));
        expires_at.set(i, TimestampTzGetDatum(r.expires_at));
        updated_at.set(i, TimestampTzGetDatum(r.updated_at));
        ++i;
      }
    Datum args[6] = {wallet.build(), rid.build(),        captured.build(),
                     state.build(),  expires_at.build(), updated_at.build()};
    if (run(q_update_reservations, args, nullptr, false) != n_changed)
      throw core::LedgerError(core::sqlstate::internal_error,
                              "reservation row vanished during a write");
  }
}

}  // namespace baseledger::pg::batch_storage
