// One statement for all of a call's writes: data-modifying CTEs over arrays.
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

spi::Query q_write = {
    "WITH w AS ("
    "  UPDATE ledger.wallets w SET balance = u.balance, reserved = u.reserved, "
    "    active_reservations = u.active, last_seq = u.last_seq, last_at = u.last_at, "
    "    last_hash = u.last_hash, next_expiry = u.next_expiry "
    "  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], "
    "    $6::timestamptz[], $34::bytea[], $37::timestamptz[]) "
    "    AS u(wallet_id, balance, reserved, active, last_seq, last_at, last_hash, next_expiry) "
    "  WHERE w.wallet_id = u.wallet_id RETURNING 1"
    "), e AS ("
    "  INSERT INTO ledger.events (wallet_id, seq, kind, amount, reservation_id, "
    "    idempotency_key, fingerprint, balance, reserved, expires_at, at, metadata, hash, "
    "    origin_wallet_id) "
    "  SELECT wallet_id, seq, kind::ledger.event_kind, amount, reservation_id, idempotency_key, "
    "    fingerprint, balance, reserved, expires_at, at, metadata, hash, origin "
    "  FROM unnest($7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::uuid[], "
    "    $12::text[], $13::bytea[], $14::bigint[], $15::bigint[], $16::timestamptz[], "
    "    $17::timestamptz[], $18::jsonb[], $33::bytea[], $35::text[]) AS e(wallet_id, seq, kind, "
    "    amount, reservation_id, idempotency_key, fingerprint, balance, reserved, expires_at, at, "
    "    metadata, hash, origin) "
    "  RETURNING 1"
    "), ri AS ("
    "  INSERT INTO ledger.reservations (wallet_id, reservation_id, amount, captured, state, "
    "    expires_at, created_at, updated_at, capture_on_expire) "
    "  SELECT wallet_id, reservation_id, amount, captured, state::ledger.reservation_state, "
    "    expires_at, created_at, updated_at, capture_on_expire "
    "  FROM unnest($19::text[], $20::uuid[], $21::bigint[], $22::bigint[], $23::text[], "
    "    $24::timestamptz[], $25::timestamptz[], $26::timestamptz[], $36::boolean[]) AS "
    "r(wallet_id, "
    "    reservation_id, amount, captured, state, expires_at, created_at, updated_at, "
    "    capture_on_expire) "
    "  RETURNING 1"
    "), ru AS ("
    "  UPDATE ledger.reservations r SET captured = u.captured, "
    "    state = u.state::ledger.reservation_state, expires_at = u.expires_at, "
    "    updated_at = u.updated_at "
    "  FROM unnest($27::text[], $28::uuid[], $29::bigint[], $30::text[], $31::timestamptz[], "
    "    $32::timestamptz[]) AS u(wallet_id, reservation_id, captured, state, expires_at, "
    "    updated_at) "
    "  WHERE r.wallet_id = u.wallet_id AND r.reservation_id = u.reservation_id RETURNING 1"
    ") SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM e), (SELECT count(*) FROM ri), "
    "(SELECT count(*) FROM ru)",
    37,
    {TEXTARRAYOID,        INT8ARRAYOID,        INT8ARRAYOID,        INT4ARRAYOID,
     INT8ARRAYOID,        TIMESTAMPTZARRAYOID, TEXTARRAYOID,        INT8ARRAYOID,
     TEXTARRAYOID,        INT8ARRAYOID,        UUIDARRAYOID,        TEXTARRAYOID,
     BYTEAARRAYOID,       INT8ARRAYOID,        INT8ARRAYOID,        TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID, JSONBARRAYOID,       TEXTARRAYOID,        UUIDARRAYOID,
     INT8ARRAYOID,        INT8ARRAYOID,        TEXTARRAYOID,        TIMESTAMPTZARRAYOID,
     TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,        UUIDARRAYOID,
     INT8ARRAYOID,        TEXTARRAYOID,        TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID,
     BYTEAARRAYOID,       BYTEAARRAYOID,       TEXTARRAYOID,        BOOLARRAYOID,
     TIMESTAMPTZARRAYOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};

// The common case, one event and at most one reservation row: plain
// statements with plans kept for the life of the backend. (One statement of
// data-modifying CTEs costs more: the executor sets up every part of it on
// each call, needed or not.)
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

// Runs q with the listed positions of the one-row arguments a/n: below SPI
// through `direct` when it applies, else (or when it returns -1) the statement.
uint64 run_one(spi::Query& q, int64 (*direct)(int, const Datum*, const bool*), const Datum* a,
               const char* n, std::initializer_list<int> positions) {
  Datum args[16];
  char nulls[16];
  bool isnull[16];
  int k = 0;
  for (int p : positions) {
    args[k] = a[p];
    nulls[k] = n[p];
    isnull[k] = n[p] == 'n';
    ++k;
  }
  if (direct_write::applies()) {
    const int64 written = direct(1, args, isnull);
    if (written >= 0) return static_cast<uint64>(written);
  }
  return spi::run(q, args, nulls, false);
}

// The one-row case's arguments, by position: 0 wallet, 1-5 projection, 6-16
// event, 17-22 reservation, 23-24 insert/update flags, 25 hash, 26 expiry
// action, 27 the event's origin (none: a one-row write is a root's), 28 the
// wallet's next expiry; returns false
// when the set does not fit it.
bool one_row_args(const WriteSet& set, Datum* args, char* nulls) {
  // (the set is chained: the wallet's head is its one event's hash)
  if (set.wallets.size() != 1 || set.events.size() != 1 ||
      set.inserted.size() + set.updated.size() > 1)
    return false;
  const WriteSet::Wallet& w = set.wallets[0];
  const WriteSet::EventRow& row = set.events[0];
  const core::Event& e = *row.event;
  const WriteSet::ReservationRow* res = !set.inserted.empty()  ? &set.inserted[0]
                                        : !set.updated.empty() ? &set.updated[0]
                                                               : nullptr;
  std::fill(nulls, nulls + 29, ' ');
  args[27] = 0;
  nulls[27] = 'n';
  args[28] = TimestampTzGetDatum(w.next_expiry.value_or(0));
  if (!w.next_expiry) nulls[28] = 'n';
  args[0] = storage::text_datum(*w.wallet_id);
  args[1] = Int64GetDatum(w.state.balance);
  args[2] = Int64GetDatum(w.state.reserved);
  args[3] = Int32GetDatum(static_cast<int32>(w.state.active_reservations));
  args[4] = Int64GetDatum(w.state.last_seq);
  args[5] = TimestampTzGetDatum(w.state.last_at.value_or(0));
  if (!w.state.last_at) nulls[5] = 'n';
  args[6] = Int64GetDatum(e.seq);
  args[7] = storage::text_datum(core::to_string(e.kind));
  args[8] = Int64GetDatum(e.amount);
  if (e.reservation_id)
    args[9] = storage::uuid_datum(*e.reservation_id);
  else
    nulls[9] = 'n';
  if (row.idempotency_key)
    args[10] = storage::text_datum(*row.idempotency_key);
  else
    nulls[10] = 'n';
  if (row.fingerprint)
    args[11] = storage::bytea_datum(row.fingerprint->data(), row.fingerprint->size());
  else
    nulls[11] = 'n';
  args[12] = Int64GetDatum(e.balance);
  args[13] = Int64GetDatum(e.reserved);
  args[14] = TimestampTzGetDatum(e.expires_at.value_or(0));
  if (!e.expires_at) nulls[14] = 'n';
  args[15] = TimestampTzGetDatum(e.at);
  args[16] = row.metadata;
  if (row.metadata_null) nulls[16] = 'n';
  const core::Reservation* r = res ? res->reservation : nullptr;
  if (r && (!e.reservation_id || r->id != *e.reservation_id)) return false;
  args[17] = Int64GetDatum(r ? r->amount : 0);
  args[18] = Int64GetDatum(r ? r->captured : 0);
  args[19] = storage::text_datum(core::to_string(r ? r->state : core::ReservationState::active));
  args[20] = TimestampTzGetDatum(r ? r->expires_at : 0);
  args[21] = TimestampTzGetDatum(r ? r->created_at : 0);
  args[22] = TimestampTzGetDatum(r ? r->updated_at : 0);
  args[23] = BoolGetDatum(!set.inserted.empty());
  args[24] = BoolGetDatum(!set.updated.empty());
  // The event's hash is the wallet's new head.
  args[25] = storage::bytea_datum(w.state.last_hash.data(), w.state.last_hash.size());
  args[26] = BoolGetDatum(r && r->capture_on_expire);
  return !row.origin;
}

// Writes `rows` rows of `ncols` values each, filled by fill(i, values, nulls):
// below SPI when the table allows it, else with the one-row statement q per row.
template <class Fill>
int64 write_rows(spi::Query& q, int64 (*direct)(int, const Datum*, const bool*), int ncols,
                 std::size_t rows, Fill fill) {
  if (rows == 0) return 0;
  std::vector<Datum> values(rows * ncols, 0);
  std::unique_ptr<bool[]> nulls(new bool[rows * ncols]());
  for (std::size_t i = 0; i < rows; ++i) fill(i, &values[i * ncols], &nulls[i * ncols]);
  const int64 written = direct(static_cast<int>(rows), values.data(), nulls.get());
  if (written >= 0) return written;
  int64 total = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    char n[16];
    for (int c = 0; c < ncols; ++c) n[c] = nulls[i * ncols + c] ? 'n' : ' ';
    total += static_cast<int64>(spi::run(q, &values[i * ncols], n, false));
  }
  return total;
}

template <class T, class F>
void set_optional(Datum* value, bool* null, const std::optional<T>& v, F to_datum) {
  *null = !v;
  if (v) *value = to_datum(*v);
}

[[noreturn]] void vanished(const char* what) {
  throw core::LedgerError(core::sqlstate::internal_error,
                          std::string(what) + " row vanished during a write");
}

}  // namespace

// Arguments of q_write: one array per column.
static void array_args(const WriteSet& set, Datum* args) {
  {
    const std::size_t n = set.wallets.size();
    ArrayColumn id(TEXTOID, n), balance(INT8OID, n), reserved(INT8OID, n), active(INT4OID, n),
        last_seq(INT8OID, n), last_at(TIMESTAMPTZOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      const WriteSet::Wallet& w = set.wallets[i];
      id.set(i, storage::text_datum(*w.wallet_id));
      balance.set(i, Int64GetDatum(w.state.balance));
      reserved.set(i, Int64GetDatum(w.state.reserved));
      active.set(i, Int32GetDatum(static_cast<int32>(w.state.active_reservations)));
      last_seq.set(i, Int64GetDatum(w.state.last_seq));
      last_at.set_optional(i, w.state.last_at, timestamp_datum);
    }
    Datum cols[6] = {id.build(),     balance.build(),  reserved.build(),
                     active.build(), last_seq.build(), last_at.build()};
    std::copy(cols, cols + 6, args);
    ArrayColumn head(BYTEAOID, n), next_expiry(TIMESTAMPTZOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      head.set(i, storage::bytea_datum(set.wallets[i].state.last_hash.data(), 32));
      next_expiry.set_optional(i, set.wallets[i].next_expiry, timestamp_datum);
    }
    args[33] = head.build();
    args[36] = next_expiry.build();
  }
  {
    const std::size_t n = set.events.size();
    ArrayColumn wallet(TEXTOID, n), seq(INT8OID, n), kind(TEXTOID, n), amount(INT8OID, n),
        rid(UUIDOID, n), key(TEXTOID, n), fp(BYTEAOID, n), balance(INT8OID, n),
        reserved(INT8OID, n), expires_at(TIMESTAMPTZOID, n), at(TIMESTAMPTZOID, n),
        metadata(JSONBOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      const WriteSet::EventRow& row = set.events[i];
      const core::Event& e = *row.event;
      wallet.set(i, storage::text_datum(*row.wallet_id));
      seq.set(i, Int64GetDatum(e.seq));
      kind.set(i, storage::text_datum(core::to_string(e.kind)));
      amount.set(i, Int64GetDatum(e.amount));
      rid.set_optional(i, e.reservation_id, storage::uuid_datum);
      balance.set(i, Int64GetDatum(e.balance));
      reserved.set(i, Int64GetDatum(e.reserved));
      expires_at.set_optional(i, e.expires_at, timestamp_datum);
      at.set(i, TimestampTzGetDatum(e.at));
      if (row.idempotency_key)
        key.set(i, storage::text_datum(*row.idempotency_key));
      else
        key.set_null(i);
      if (row.fingerprint)
        fp.set(i, storage::bytea_datum(row.fingerprint->data(), row.fingerprint->size()));
      else
        fp.set_null(i);
      if (row.metadata_null)
        metadata.set_null(i);
      else
        metadata.set(i, row.metadata);
    }
    ArrayColumn hash(BYTEAOID, n), origin(TEXTOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      hash.set(i, storage::bytea_datum(set.events[i].hash.data(), 32));
      if (set.events[i].origin)
        origin.set(i, storage::text_datum(*set.events[i].origin));
      else
        origin.set_null(i);
    }
    args[32] = hash.build();
    args[34] = origin.build();
    Datum cols[12] = {wallet.build(),   seq.build(),        kind.build(), amount.build(),
                      rid.build(),      key.build(),        fp.build(),   balance.build(),
                      reserved.build(), expires_at.build(), at.build(),   metadata.build()};
    std::copy(cols, cols + 12, args + 6);
  }
  {
    const std::size_t n = set.inserted.size();
    ArrayColumn wallet(TEXTOID, n), rid(UUIDOID, n), amount(INT8OID, n), captured(INT8OID, n),
        state(TEXTOID, n), expires_at(TIMESTAMPTZOID, n), created_at(TIMESTAMPTZOID, n),
        updated_at(TIMESTAMPTZOID, n), capture(BOOLOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      const core::Reservation& r = *set.inserted[i].reservation;
      capture.set(i, BoolGetDatum(r.capture_on_expire));
      wallet.set(i, storage::text_datum(*set.inserted[i].wallet_id));
      rid.set(i, storage::uuid_datum(r.id));
      amount.set(i, Int64GetDatum(r.amount));
      captured.set(i, Int64GetDatum(r.captured));
      state.set(i, storage::text_datum(core::to_string(r.state)));
      expires_at.set(i, TimestampTzGetDatum(r.expires_at));
      created_at.set(i, TimestampTzGetDatum(r.created_at));
      updated_at.set(i, TimestampTzGetDatum(r.updated_at));
    }
    Datum cols[8] = {wallet.build(), rid.build(),        amount.build(),     captured.build(),
                     state.build(),  expires_at.build(), created_at.build(), updated_at.build()};
    std::copy(cols, cols + 8, args + 18);
    args[35] = capture.build();
  }
  {
    const std::size_t n = set.updated.size();
    ArrayColumn wallet(TEXTOID, n), rid(UUIDOID, n), captured(INT8OID, n), state(TEXTOID, n),
        expires_at(TIMESTAMPTZOID, n), updated_at(TIMESTAMPTZOID, n);
    for (std::size_t i = 0; i < n; ++i) {
      const core::Reservation& r = *set.updated[i].reservation;
      wallet.set(i, storage::text_datum(*set.updated[i].wallet_id));
      rid.set(i, storage::uuid_datum(r.id));
      captured.set(i, Int64GetDatum(r.captured));
      state.set(i, storage::text_datum(core::to_string(r.state)));
      expires_at.set(i, TimestampTzGetDatum(r.expires_at));
      updated_at.set(i, TimestampTzGetDatum(r.updated_at));
    }
    Datum cols[6] = {wallet.build(), rid.build(),        captured.build(),
                     state.build(),  expires_at.build(), updated_at.build()};
    std::copy(cols, cols + 6, args + 26);
  }
}

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

struct Counts {
  int64 wallets, events, inserted, updated;
};

// The set's rows below SPI, table by table (READ COMMITTED).
Counts write_direct(const WriteSet& set) {
  Counts c{};
  c.wallets = write_rows(q_one_wallet, direct_write::update_wallets, 8, set.wallets.size(),
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
  c.events =
      write_rows(q_one_event, direct_write::insert_events, 14, set.events.size(),
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
  c.inserted = write_rows(q_one_insert_reservation, direct_write::insert_reservations, 9,
                          set.inserted.size(), [&](std::size_t i, Datum* v, bool*) {
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
  c.updated = write_rows(q_one_update_reservation, direct_write::update_reservations, 6,
                         set.updated.size(), [&](std::size_t i, Datum* v, bool*) {
                           const core::Reservation& r = *set.updated[i].reservation;
                           v[0] = storage::text_datum(*set.updated[i].wallet_id);
                           v[1] = storage::uuid_datum(r.id);
                           v[2] = Int64GetDatum(r.captured);
                           v[3] = storage::text_datum(core::to_string(r.state));
                           v[4] = TimestampTzGetDatum(r.expires_at);
                           v[5] = TimestampTzGetDatum(r.updated_at);
                         });
  return c;
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
  Datum args[37];
  char nulls[37];  // (the one-row case uses 29 of them)
  const bool one = one_row_args(set, args, nulls);
  const bool direct = !one && direct_write::applies();
  if (!one && !direct) array_args(set, args);

  Counts counts{};
  try {
    if (one) {
      // The projection first: under REPEATABLE READ a concurrent change
      // surfaces here as 40001 before any unique index can answer 23505.
      counts.wallets = run_one(q_one_wallet, direct_write::update_wallets, args, nulls,
                               {0, 1, 2, 3, 4, 5, 25, 28});
      counts.events = run_one(q_one_event, direct_write::insert_events, args, nulls,
                              {0, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 25, 27});
      if (!set.inserted.empty())
        counts.inserted = run_one(q_one_insert_reservation, direct_write::insert_reservations, args,
                                  nulls, {0, 9, 17, 18, 19, 20, 21, 22, 26});
      if (!set.updated.empty())
        counts.updated = run_one(q_one_update_reservation, direct_write::update_reservations, args,
                                 nulls, {0, 9, 18, 19, 20, 22});
    } else if (direct) {
      counts = write_direct(set);
    } else {
      spi::run(q_write, args, nullptr, false);
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
