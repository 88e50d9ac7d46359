// Every write of a call, as rows per table: below SPI in READ COMMITTED
// (direct_write), else plain one-row statements, or for many rows one
// statement of data-modifying CTEs over arrays. One encoder per table feeds
// all three.
#include "pg/write_set.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/errors.hpp"
#include "pg/array_column.hpp"
#include "pg/direct_write.hpp"
#include "pg/error_wall.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg {

namespace {

Datum timestamp_datum(const core::Micros& t) {
  return TimestampTzGetDatum(t);
}

// One row per statement, with plans kept for the life of the backend; the
// parameters are in the order of each table's encoder below.
spi::Query q_one_wallet = {
    "UPDATE ledger.wallets SET balance = $2, reserved = $3, active_reservations = $4, "
    "last_seq = $5, last_at = $6, last_hash = $7, next_expiry = $8 WHERE wallet_id = $1",
    8,
    {TEXTOID, INT8OID, INT8OID, INT4OID, INT8OID, TIMESTAMPTZOID, BYTEAOID, TIMESTAMPTZOID},
    nullptr};
spi::Query q_one_event = {
    "INSERT INTO ledger.events (wallet_id, seq, kind, amount, reservation_id, idempotency_key, "
    "fingerprint, balance, reserved, expires_at, at, metadata, hash, origin_wallet_id) "
    "VALUES ($1, $2, $3::ledger.event_kind, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    14,
    {TEXTOID, INT8OID, TEXTOID, INT8OID, UUIDOID, TEXTOID, BYTEAOID, INT8OID, INT8OID,
     TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID, BYTEAOID, TEXTOID},
    nullptr};
spi::Query q_one_insert_reservation = {
    "INSERT INTO ledger.reservations (wallet_id, reservation_id, amount, captured, state, "
    "expires_at, created_at, updated_at, capture_on_expire) "
    "VALUES ($1, $2, $3, $4, $5::ledger.reservation_state, $6, $7, $8, $9)",
    9,
    {TEXTOID, UUIDOID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
     BOOLOID},
    nullptr};
spi::Query q_one_update_reservation = {
    "UPDATE ledger.reservations SET captured = $3, state = $4::ledger.reservation_state, "
    "expires_at = $5, updated_at = $6 WHERE wallet_id = $1 AND reservation_id = $2",
    6,
    {TEXTOID, UUIDOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
    nullptr};

// All rows at once, each table's columns as arrays in its encoder's order
// (wallets $1-$8, events $9-$22, reservations inserted $23-$31, updated
// $32-$37). The projection's UPDATE is part of it, so under REPEATABLE READ a
// concurrent change raises 40001.
spi::Query q_all = {
    "WITH w AS ("
    "  UPDATE ledger.wallets w SET balance = u.balance, reserved = u.reserved, "
    "    active_reservations = u.active, last_seq = u.last_seq, last_at = u.last_at, "
    "    last_hash = u.last_hash, next_expiry = u.next_expiry "
    "  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], "
    "    $6::timestamptz[], $7::bytea[], $8::timestamptz[]) "
    "    AS u(wallet_id, balance, reserved, active, last_seq, last_at, last_hash, next_expiry) "
    "  WHERE w.wallet_id = u.wallet_id RETURNING 1"
    "), e AS ("
    "  INSERT INTO ledger.events (wallet_id, seq, kind, amount, reservation_id, "
    "    idempotency_key, fingerprint, balance, reserved, expires_at, at, metadata, hash, "
    "    origin_wallet_id) "
    "  SELECT wallet_id, seq, kind::ledger.event_kind, amount, reservation_id, idempotency_key, "
    "    fingerprint, balance, reserved, expires_at, at, metadata, hash, origin "
    "  FROM unnest($9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::uuid[], "
    "    $14::text[], $15::bytea[], $16::bigint[], $17::bigint[], $18::timestamptz[], "
    "    $19::timestamptz[], $20::jsonb[], $21::bytea[], $22::text[]) AS e(wallet_id, seq, kind, "
    "    amount, reservation_id, idempotency_key, fingerprint, balance, reserved, expires_at, at, "
    "    metadata, hash, origin) "
    "  RETURNING 1"
    "), ri AS ("
    "  INSERT INTO ledger.reservations (wallet_id, reservation_id, amount, captured, state, "
    "    expires_at, created_at, updated_at, capture_on_expire) "
    "  SELECT wallet_id, reservation_id, amount, captured, state::ledger.reservation_state, "
    "    expires_at, created_at, updated_at, capture_on_expire "
    "  FROM unnest($23::text[], $24::uuid[], $25::bigint[], $26::bigint[], $27::text[], "
    "    $28::timestamptz[], $29::timestamptz[], $30::timestamptz[], $31::boolean[]) "
    "    AS r(wallet_id, reservation_id, amount, captured, state, expires_at, created_at, "
    "    updated_at, capture_on_expire) "
    "  RETURNING 1"
    "), ru AS ("
    "  UPDATE ledger.reservations r SET captured = u.captured, "
    "    state = u.state::ledger.reservation_state, expires_at = u.expires_at, "
    "    updated_at = u.updated_at "
    "  FROM unnest($32::text[], $33::uuid[], $34::bigint[], $35::text[], $36::timestamptz[], "
    "    $37::timestamptz[]) AS u(wallet_id, reservation_id, captured, state, expires_at, "
    "    updated_at) "
    "  WHERE r.wallet_id = u.wallet_id AND r.reservation_id = u.reservation_id RETURNING 1"
    ") SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM e), (SELECT count(*) FROM ri), "
    "(SELECT count(*) FROM ru)",
    37,
    {TEXTARRAYOID,        INT8ARRAYOID,        INT8ARRAYOID,        INT4ARRAYOID,
     INT8ARRAYOID,        TIMESTAMPTZARRAYOID, BYTEAARRAYOID,       TIMESTAMPTZARRAYOID,
     TEXTARRAYOID,        INT8ARRAYOID,        TEXTARRAYOID,        INT8ARRAYOID,
     UUIDARRAYOID,        TEXTARRAYOID,        BYTEAARRAYOID,       INT8ARRAYOID,
     INT8ARRAYOID,        TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, JSONBARRAYOID,
     BYTEAARRAYOID,       TEXTARRAYOID,        TEXTARRAYOID,        UUIDARRAYOID,
     INT8ARRAYOID,        INT8ARRAYOID,        TEXTARRAYOID,        TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, BOOLARRAYOID,        TEXTARRAYOID,
     UUIDARRAYOID,        INT8ARRAYOID,        TEXTARRAYOID,        TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};

template <class T, class F>
void set_optional(Datum* value, bool* null, const std::optional<T>& v, F to_datum) {
  *null = !v;
  if (v) *value = to_datum(*v);
}

// One table's rows, encoded row after row in the order of its one-row
// statement's parameters.
struct Rows {
  spi::Query* statement;                                      // one row
  int64 (*direct)(int, const Datum*, const bool*) = nullptr;  // all rows below SPI
  int ncols = 0;
  std::size_t rows = 0;
  std::vector<Datum> values;
  std::unique_ptr<bool[]> nulls;
};

template <class Fill>
Rows encode(spi::Query& statement, int64 (*direct)(int, const Datum*, const bool*),
            std::size_t rows, Fill fill) {
  Rows r{&statement, direct, statement.nargs, rows, {}, nullptr};
  r.values.assign(rows * r.ncols, 0);
  r.nulls.reset(new bool[rows * r.ncols + 1]());
  for (std::size_t i = 0; i < rows; ++i) fill(i, &r.values[i * r.ncols], &r.nulls[i * r.ncols]);
  return r;
}

Rows wallet_rows(const WriteSet& set) {
  return encode(q_one_wallet, direct_write::update_wallets, set.wallets.size(),
                [&](std::size_t i, Datum* v, bool* n) {
                  const WriteSet::Wallet& w = set.wallets[i];
                  v[0] = storage::text_datum(*w.wallet_id);
                  v[1] = Int64GetDatum(w.state.balance);
                  v[2] = Int64GetDatum(w.state.reserved);
                  v[3] = Int32GetDatum(static_cast<int32>(w.state.active_reservations));
                  v[4] = Int64GetDatum(w.state.last_seq);
                  set_optional(&v[5], &n[5], w.state.last_at, timestamp_datum);
                  v[6] = storage::bytea_datum(w.state.last_hash.data(), 32);
                  set_optional(&v[7], &n[7], w.next_expiry, timestamp_datum);
                });
}

Rows event_rows(const WriteSet& set) {
  return encode(q_one_event, direct_write::insert_events, set.events.size(),
                [&](std::size_t i, Datum* v, bool* n) {
                  const WriteSet::EventRow& row = set.events[i];
                  const core::Event& e = *row.event;
                  v[0] = storage::text_datum(*row.wallet_id);
                  v[1] = Int64GetDatum(e.seq);
                  v[2] = storage::text_datum(core::to_string(e.kind));
                  v[3] = Int64GetDatum(e.amount);
                  set_optional(&v[4], &n[4], e.reservation_id, storage::uuid_datum);
                  n[5] = row.idempotency_key == nullptr;
                  if (row.idempotency_key) v[5] = storage::text_datum(*row.idempotency_key);
                  n[6] = row.fingerprint == nullptr;
                  if (row.fingerprint)
                    v[6] = storage::bytea_datum(row.fingerprint->data(), row.fingerprint->size());
                  v[7] = Int64GetDatum(e.balance);
                  v[8] = Int64GetDatum(e.reserved);
                  set_optional(&v[9], &n[9], e.expires_at, timestamp_datum);
                  v[10] = TimestampTzGetDatum(e.at);
                  n[11] = row.metadata_null;
                  v[11] = row.metadata;
                  v[12] = storage::bytea_datum(row.hash.data(), 32);
                  n[13] = row.origin == nullptr;
                  if (row.origin) v[13] = storage::text_datum(*row.origin);
                });
}

Rows inserted_rows(const WriteSet& set) {
  return encode(q_one_insert_reservation, direct_write::insert_reservations, set.inserted.size(),
                [&](std::size_t i, Datum* v, bool*) {
                  const core::Reservation& r = *set.inserted[i].reservation;
                  v[0] = storage::text_datum(*set.inserted[i].wallet_id);
                  v[1] = storage::uuid_datum(r.id);
                  v[2] = Int64GetDatum(r.amount);
                  v[3] = Int64GetDatum(r.captured);
                  v[4] = storage::text_datum(core::to_string(r.state));
                  v[5] = TimestampTzGetDatum(r.expires_at);
                  v[6] = TimestampTzGetDatum(r.created_at);
                  v[7] = TimestampTzGetDatum(r.updated_at);
                  v[8] = BoolGetDatum(r.capture_on_expire);
                });
}

Rows updated_rows(const WriteSet& set) {
  return encode(q_one_update_reservation, direct_write::update_reservations, set.updated.size(),
                [&](std::size_t i, Datum* v, bool*) {
                  const core::Reservation& r = *set.updated[i].reservation;
                  v[0] = storage::text_datum(*set.updated[i].wallet_id);
                  v[1] = storage::uuid_datum(r.id);
                  v[2] = Int64GetDatum(r.captured);
                  v[3] = storage::text_datum(core::to_string(r.state));
                  v[4] = TimestampTzGetDatum(r.expires_at);
                  v[5] = TimestampTzGetDatum(r.updated_at);
                });
}

// Writes the rows below SPI when `direct` and the table allows it, else with
// the one-row statement per row; returns the rows written.
int64 write_each(Rows& r, bool direct) {
  if (r.rows == 0) return 0;
  if (direct) {
    const int64 written = r.direct(static_cast<int>(r.rows), r.values.data(), r.nulls.get());
    if (written >= 0) return written;
  }
  int64 total = 0;
  for (std::size_t i = 0; i < r.rows; ++i) {
    char n[16];
    for (int c = 0; c < r.ncols; ++c) n[c] = r.nulls[i * r.ncols + c] ? 'n' : ' ';
    total += static_cast<int64>(spi::run(*r.statement, &r.values[i * r.ncols], n, false));
  }
  return total;
}

// Puts each column of the rows into args as an array, in column order.
void put_arrays(const Rows& r, Datum* args) {
  for (int c = 0; c < r.ncols; ++c) {
    ArrayColumn col(r.statement->types[c], r.rows);
    for (std::size_t i = 0; i < r.rows; ++i) {
      if (r.nulls[i * r.ncols + c])
        col.set_null(i);
      else
        col.set(i, r.values[i * r.ncols + c]);
    }
    args[c] = col.build();
  }
}

[[noreturn]] void vanished(const char* what) {
  throw core::LedgerError(core::sqlstate::internal_error,
                          std::string(what) + " row vanished during a write");
}

struct Counts {
  int64 wallets, events, inserted, updated;
};

}  // namespace

// Computes each event's hash from its wallet's head, in order, and moves the
// heads forward. (Rows name their wallet by the same string as the wallet
// entry, so the pointer identifies it.)
void chain(WriteSet& set) {
  std::unordered_map<const std::string*, core::Hash*> heads;
  heads.reserve(set.wallets.size());
  for (WriteSet::Wallet& w : set.wallets) heads.emplace(w.wallet_id, &w.state.last_hash);
  for (WriteSet::EventRow& row : set.events) {
    auto it = heads.find(row.wallet_id);
    if (it == heads.end())
      throw core::LedgerError(core::sqlstate::internal_error, "event for a wallet not in the set");
    core::Hash& head = *it->second;
    row.hash = core::event_hash(
        head, *row.wallet_id, *row.event,
        core::EventRequest{row.idempotency_key, row.fingerprint, row.metadata_text, row.origin});
    head = row.hash;
  }
}

// Lowers each wallet's next expiry to the expiry of every hold the set
// reserves or extends at it (an unknown one stays unknown).
void lower_next_expiry(WriteSet& set) {
  std::unordered_map<const std::string*, std::optional<core::Micros>*> bound;
  for (WriteSet::Wallet& w : set.wallets) bound.emplace(w.wallet_id, &w.next_expiry);
  for (const WriteSet::EventRow& row : set.events) {
    const core::Event& e = *row.event;
    if ((e.kind != core::EventKind::reserve && e.kind != core::EventKind::extend) || !e.expires_at)
      continue;
    std::optional<core::Micros>& b = *bound.at(row.wallet_id);
    if (b) b = std::min(*b, *e.expires_at);
  }
}

void write(WriteSet& set) {
  chain(set);
  lower_next_expiry(set);
  Rows tables[4] = {wallet_rows(set), event_rows(set), inserted_rows(set), updated_rows(set)};
  const bool direct = direct_write::applies();
  bool few = true;
  for (const Rows& t : tables) few = few && t.rows <= 1;

  Counts counts{};
  try {
    if (direct || few) {
      // The projection first: under REPEATABLE READ a concurrent change
      // surfaces here as 40001 before any unique index can answer 23505.
      counts = Counts{write_each(tables[0], direct), write_each(tables[1], direct),
                      write_each(tables[2], direct), write_each(tables[3], direct)};
    } else {
      Datum args[37];
      int k = 0;
      for (const Rows& t : tables) {
        put_arrays(t, args + k);
        k += t.ncols;
      }
      spi::run(q_all, args, nullptr, false);
      pg_try([&] {
        spi::Row r = spi::row(0);
        counts = Counts{r.int64_at(1), r.int64_at(2), r.int64_at(3), r.int64_at(4)};
      });
    }
  } catch (const PgError& err) {
    if (err.sqlerrcode() == ERRCODE_UNIQUE_VIOLATION)
      throw core::LedgerError(core::sqlstate::serialization_failure,
                              "could not serialize access due to a concurrent write",
                              "Another transaction wrote the same event concurrently.",
                              "Retry the call with the same idempotency key.");
    throw;
  }
  if (counts.wallets != static_cast<int64>(set.wallets.size())) vanished("wallet");
  if (counts.updated != static_cast<int64>(set.updated.size())) vanished("reservation");
}

}  // namespace baseledger::pg
