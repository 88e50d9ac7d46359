// Index lookups through the table access method (see direct_read.hpp). Code
// inside pg_try() lambdas holds only plain data (see error_wall.hpp).
#include "pg/direct_read.hpp"

#include <algorithm>
#include <cstring>

#include "core/errors.hpp"
#include "pg/direct_access.hpp"
#include "pg/error_wall.hpp"
#include "pg/relations.hpp"

namespace baseledger::pg::direct_read {

namespace {

using core::Micros;
using direct::Columns;
using direct::enum_label;
using direct::fresh_snapshot;
using direct::index_scan;
using direct::text_key;

// The wallet row's fields, in storage::WalletFields' order.
Columns<storage::WalletFields::count> wallet_cols = {
    {"unit", "balance", "reserved", "active_reservations", "last_seq", "last_at", "last_hash",
     "overdraft", "max_active", "children", "has_limits", "has_alerts", "root_id", "next_expiry"}};
Columns<9> event_cols = {{"seq", "kind", "amount", "reservation_id", "balance", "reserved",
                          "expires_at", "at", "fingerprint"}};
Columns<8> reservation_cols = {{"reservation_id", "amount", "captured", "expires_at", "created_at",
                                "updated_at", "state", "capture_on_expire"}};

// Runs inside pg_try: scans ledger.<table> through ledger.<index> with the
// keys, under a new snapshot, and calls visit(row) for each visible tuple
// until it returns false. Locks are kept to the end of the transaction, as
// the executor keeps them.
template <std::size_t N, class Visit>
void scan(const char* table, const char* index, Columns<N>& cols, ScanKeyData* keys, int nkeys,
          Visit visit) {
  Relation rel = relations::open(table, AccessShareLock, false);
  Relation idx = relations::open(index, AccessShareLock, true);
  cols.resolve(rel);
  Snapshot snapshot = fresh_snapshot();
  index_scan(rel, idx, snapshot, keys, nkeys, [&](TupleTableSlot* slot) {
    slot_getallattrs(slot);
    return visit(direct::SlotRow{slot});
  });
  UnregisterSnapshot(snapshot);
  relations::close(idx);
  relations::close(rel);
}

// Reads the reservation columns (runs inside pg_try); *state gets the state's
// label when state is not null.
void read_reservation(const direct::SlotRow& r, core::Reservation* out, char** state) {
  const AttrNumber* a = reservation_cols.att;
  const int col[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
  storage::read_reservation_columns(r, col, out);
  if (state) {
    bool isnull;
    Datum d = r.get(a[6], &isnull);
    *state = isnull ? nullptr : enum_label(d);
  }
  out->capture_on_expire = r.bool_at(a[7]);
}

}  // namespace

bool applies() {
  return !IsolationUsesXactSnapshot();
}

std::optional<storage::WalletRow> wallet(const std::string& wallet_id) {
  Datum id = storage::text_datum(wallet_id);
  const uint64 hash = relations::key_hash(wallet_id.data(), wallet_id.size(), nullptr);
  bool found = false;
  storage::WalletFields fields;
  pg_try([&] {
    ScanKeyData key;
    text_key(&key, 1, id);
    scan("wallets", "wallets_pkey", wallet_cols, &key, 1, [&](const direct::SlotRow& r) {
      storage::WalletFields::Columns cols;
      for (int i = 0; i < storage::WalletFields::count; ++i) cols[i] = wallet_cols.att[i];
      fields.read(r, cols);
      relations::remember_row(r.slot->tts_tableOid, hash, &r.slot->tts_tid);
      found = true;
      return false;
    });
  });
  if (!found) return std::nullopt;
  return fields.finish();
}

std::optional<storage::KeyedEvent> event_by_key(const std::string& wallet_id,
                                                const std::string& key) {
  Datum args[2] = {storage::text_datum(wallet_id), storage::text_datum(key)};
  bool found = false;
  char* kind = nullptr;
  storage::KeyedEvent out;
  pg_try([&] {
    ScanKeyData keys[2];
    text_key(&keys[0], 1, args[0]);
    text_key(&keys[1], 2, args[1]);
    scan("events", "events_idempotency_key", event_cols, keys, 2, [&](const direct::SlotRow& r) {
      const AttrNumber* a = event_cols.att;
      core::Event& e = out.event;
      found = true;
      e.seq = r.int64_at(a[0]);
      bool isnull;
      Datum k = r.get(a[1], &isnull);
      kind = isnull ? nullptr : enum_label(k);
      e.amount = r.int64_at(a[2]);
      bool has_rid;
      core::Uuid rid;
      r.uuid_at(a[3], &rid, &has_rid);
      if (has_rid) e.reservation_id = rid;
      e.balance = r.int64_at(a[4]);
      e.reserved = r.int64_at(a[5]);
      Micros expires_at;
      if (r.timestamp_at(a[6], &expires_at)) e.expires_at = expires_at;
      r.timestamp_at(a[7], &e.at);
      r.bytes_at(a[8], out.fingerprint.data(), out.fingerprint.size());
      return false;
    });
  });
  if (!found) return std::nullopt;
  out.event.kind = storage::event_kind_of(kind);
  out.event.from_command = true;
  return out;
}

std::optional<std::vector<core::Reservation>> due(const std::string& wallet_id, Micros now,
                                                  std::int64_t limit,
                                                  std::optional<Micros>* next_expiry) {
  Datum id = storage::text_datum(wallet_id);
  // Holds are read into a fixed-size buffer inside the PostgreSQL frame,
  // then copied out: no C++ allocation happens under pg_try.
  constexpr std::int64_t chunk = 16;
  std::vector<core::Reservation> out;
  core::Reservation buf[chunk];
  std::int64_t n = 0;
  bool more = false, at_limit = false;
  Micros after = storage::no_expiry;  // the first expiry past `now`
  pg_try([&] {
    ScanKeyData key;
    text_key(&key, 1, id);
    // The wallet's active holds in order of expiry: the due ones, then the
    // first one that is not (its expiry bounds the wallet's next).
    scan("reservations", "reservations_wallet_active", reservation_cols, &key, 1,
         [&](const direct::SlotRow& r) {
           Micros expires_at = 0;
           r.timestamp_at(reservation_cols.att[3], &expires_at);
           if (expires_at > now) {
             after = expires_at;
             return false;
           }
           if (n == limit) {
             at_limit = true;
             return false;
           }
           if (n == chunk) {
             more = true;
             return false;
           }
           // The index holds active rows only; the state is checked anyway.
           char* state = nullptr;
           read_reservation(r, &buf[n], &state);
           if (state == nullptr || std::strcmp(state, "active") != 0) return true;
           buf[n].state = core::ReservationState::active;
           relations::remember_row(
               r.slot->tts_tableOid,
               relations::key_hash(wallet_id.data(), wallet_id.size(), buf[n].id.bytes.data()),
               &r.slot->tts_tid);
           ++n;
           return true;
         });
  });
  // Rare: more due holds than the buffer takes; the SPI statement reads them all.
  if (more) return std::nullopt;
  out.assign(buf, buf + n);
  if (!at_limit) *next_expiry = n > 0 ? std::min(out.front().expires_at, after) : after;
  return out;
}

std::optional<core::Reservation> reservation(const std::string& wallet_id, const core::Uuid& id) {
  Datum args[2] = {storage::text_datum(wallet_id), storage::uuid_datum(id)};
  const uint64 hash = relations::key_hash(wallet_id.data(), wallet_id.size(), id.bytes.data());
  bool found = false;
  char* state = nullptr;
  core::Reservation out;
  pg_try([&] {
    ScanKeyData keys[2];
    text_key(&keys[0], 1, args[0]);
    ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid, InvalidOid, F_UUID_EQ,
                           args[1]);
    scan("reservations", "reservations_pkey", reservation_cols, keys, 2,
         [&](const direct::SlotRow& r) {
           found = true;
           read_reservation(r, &out, &state);
           relations::remember_row(r.slot->tts_tableOid, hash, &r.slot->tts_tid);
           return false;
         });
  });
  if (!found) return std::nullopt;
  out.state = storage::state_of(state);
  return out;
}

}  // namespace baseledger::pg::direct_read
