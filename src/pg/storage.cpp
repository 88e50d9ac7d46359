// SPI storage: prepared plans, parameter encoding and row decoding. Code
// inside pg_call()/pg_try() lambdas holds only plain data (see error_wall.hpp).
#include "pg/storage.hpp"

#include <unistd.h>

#include <cstring>

#include "core/errors.hpp"
#include "pg/direct_read.hpp"
#include "pg/error_wall.hpp"
#include "pg/relations.hpp"
#include "pg/spi.hpp"
#include "pg/write_set.hpp"

namespace baseledger::pg::storage {

namespace {

using core::Micros;
using spi::plan_of;
using spi::Query;
using spi::Row;
using spi::row;
using spi::run;

Query q_wallet_rc = {
    "SELECT unit, balance, reserved, active_reservations, last_seq, last_at, last_hash, "
    "overdraft, max_active, children, has_limits, has_alerts, root_id, next_expiry "
    "FROM ledger.wallets WHERE wallet_id = $1",
    1,
    {TEXTOID},
    nullptr};
Query q_wallet_rr = {
    "SELECT unit, balance, reserved, active_reservations, last_seq, last_at, last_hash, "
    "overdraft, max_active, children, has_limits, has_alerts, root_id, next_expiry "
    "FROM ledger.wallets WHERE wallet_id = $1 FOR NO KEY UPDATE",
    1,
    {TEXTOID},
    nullptr};
Query q_insert_wallet = {
    "INSERT INTO ledger.wallets (wallet_id, unit, created_at, metadata, overdraft, root_id) "
    "VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN 0 END, $6) ON CONFLICT (wallet_id) DO NOTHING",
    6,
    {TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID, BOOLOID, TEXTOID},
    nullptr};
Query q_count_child = {"UPDATE ledger.wallets SET children = children + 1 WHERE wallet_id = $1",
                       1,
                       {TEXTOID},
                       nullptr};
Query q_find_key = {
    "SELECT seq, kind::text, amount, reservation_id, balance, reserved, expires_at, at, "
    "fingerprint FROM ledger.events WHERE wallet_id = $1 AND idempotency_key = $2",
    2,
    {TEXTOID, TEXTOID},
    nullptr};
Query q_due = {
    "SELECT reservation_id, amount, captured, expires_at, created_at, updated_at, "
    "capture_on_expire "
    "FROM ledger.reservations WHERE wallet_id = $1 AND state = 'active' AND expires_at <= $2 "
    "ORDER BY expires_at LIMIT $3",
    3,
    {TEXTOID, TIMESTAMPTZOID, INT8OID},
    nullptr};
// The due holds of a whole tree: the root's own and those of every wallet
// under it ("root/" <= id < "root0": '0' follows '/' in byte order).
Query q_due_tree = {
    "SELECT reservation_id, amount, captured, expires_at, created_at, updated_at, "
    "capture_on_expire, wallet_id "
    "FROM ledger.reservations WHERE state = 'active' AND expires_at <= $2 AND "
    "(wallet_id = $1 OR (wallet_id >= $1 || '/' AND wallet_id < $1 || '0')) "
    "ORDER BY expires_at LIMIT $3",
    3,
    {TEXTOID, TIMESTAMPTZOID, INT8OID},
    nullptr};
Query q_tree_next_expiry = {
    "SELECT min(expires_at) FROM ledger.reservations WHERE state = 'active' AND expires_at > $2 "
    "AND (wallet_id = $1 OR (wallet_id >= $1 || '/' AND wallet_id < $1 || '0'))",
    2,
    {TEXTOID, TIMESTAMPTZOID},
    nullptr};
// Whether the wallet's next_expiry is later than an open hold of its tree
// (its own, and for a root with children those of the wallets of its tree).
Query q_next_expiry_too_late = {
    "SELECT w.next_expiry > least("
    "  (SELECT min(expires_at) FROM ledger.reservations "
    "    WHERE wallet_id = w.wallet_id AND state = 'active'), "
    "  (SELECT min(r.expires_at) FROM ledger.reservations r "
    "    JOIN ledger.wallets t ON t.wallet_id = r.wallet_id "
    "    WHERE w.children > 0 AND r.state = 'active' AND r.wallet_id >= w.wallet_id || '/' "
    "    AND r.wallet_id < w.wallet_id || '0' AND t.root_id = w.wallet_id)) "
    "FROM ledger.wallets w WHERE w.wallet_id = $1",
    1,
    {TEXTOID},
    nullptr};
Query q_reservation = {
    "SELECT reservation_id, amount, captured, expires_at, created_at, updated_at, state::text, "
    "capture_on_expire "
    "FROM ledger.reservations WHERE wallet_id = $1 AND reservation_id = $2",
    2,
    {TEXTOID, UUIDOID},
    nullptr};
Query q_balance = {
    "SELECT w.unit, w.balance, w.reserved, w.active_reservations, w.last_seq, w.last_at, "
    "l.amount, l.n, l.captured FROM ledger.wallets w CROSS JOIN LATERAL ("
    "SELECT coalesce(sum(s.amount), 0)::bigint AS amount, count(*) AS n, "
    "coalesce(sum(s.amount) FILTER (WHERE s.capture), 0)::bigint AS captured FROM ("
    "SELECT r.amount, r.capture_on_expire AS capture FROM ledger.reservations r "
    "WHERE r.wallet_id = w.wallet_id AND r.state = 'active' AND r.expires_at <= $2 UNION ALL "
    "SELECT r.amount, r.capture_on_expire FROM ledger.reservations r WHERE w.children > 0 "
    "AND r.wallet_id >= w.wallet_id || '/' AND r.wallet_id < w.wallet_id || '0' "
    "AND r.state = 'active' AND r.expires_at <= $2 AND EXISTS (SELECT 1 FROM ledger.wallets d "
    "WHERE d.wallet_id = r.wallet_id AND d.root_id = w.root_id)) s) l WHERE w.wallet_id = $1",
    2,
    {TEXTOID, TIMESTAMPTZOID},
    nullptr};
Query q_wallet_exists = {
    "SELECT 1 FROM ledger.wallets WHERE wallet_id = $1", 1, {TEXTOID}, nullptr};
Query q_due_wallets = {
    "SELECT wallet_id, count(*) FROM (SELECT wallet_id FROM ledger.reservations "
    "WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2) d "
    "GROUP BY wallet_id",
    2,
    {TIMESTAMPTZOID, INT8OID},
    nullptr};
Query q_all_wallets = {"SELECT wallet_id FROM ledger.wallets ORDER BY wallet_id", 0, {}, nullptr};
Query q_orphan_events = {
    "SELECT DISTINCT e.wallet_id FROM ledger.events e WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger.wallets w WHERE w.wallet_id = e.wallet_id) ORDER BY 1",
    0,
    {},
    nullptr};
Query q_orphan_reservations = {
    "SELECT DISTINCT r.wallet_id FROM ledger.reservations r WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger.wallets w WHERE w.wallet_id = r.wallet_id) ORDER BY 1",
    0,
    {},
    nullptr};
Query q_history = {
    "SELECT seq, kind::text, amount, reservation_id, idempotency_key, balance, reserved, at, "
    "metadata FROM ledger.events WHERE wallet_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    3,
    {TEXTOID, INT8OID, INT8OID},
    nullptr};
Query q_wallet_snapshot = {
    "SELECT unit, balance, reserved, active_reservations, last_seq, last_at, last_hash, "
    "overdraft, max_active, children, has_limits, has_alerts, root_id, next_expiry "
    "FROM ledger.wallets WHERE wallet_id = $1",
    1,
    {TEXTOID},
    nullptr};
Query q_wallet_reservations = {
    "SELECT reservation_id, amount, captured, expires_at, created_at, updated_at, state::text, "
    "capture_on_expire "
    "FROM ledger.reservations r WHERE r.wallet_id = $1 OR "
    "(r.wallet_id >= $1 || '/' AND r.wallet_id < $1 || '0' AND EXISTS ("
    "SELECT 1 FROM ledger.wallets d, ledger.wallets w WHERE d.wallet_id = r.wallet_id "
    "AND w.wallet_id = $1 AND d.root_id = w.root_id))",
    1,
    {TEXTOID},
    nullptr};
Query q_events = {
    "SELECT seq, kind::text, amount, reservation_id, balance, reserved, expires_at, at, "
    "idempotency_key, fingerprint, metadata::text, hash, origin_wallet_id "
    "FROM ledger.events WHERE wallet_id = $1 ORDER BY seq",
    1,
    {TEXTOID},
    nullptr};
// The same before 0.3.0 (no origin column): the update scripts of older
// versions run with this module.
Query q_events_before_0_3 = {
    "SELECT seq, kind::text, amount, reservation_id, balance, reserved, expires_at, at, "
    "idempotency_key, fingerprint, metadata::text, hash "
    "FROM ledger.events WHERE wallet_id = $1 ORDER BY seq",
    1,
    {TEXTOID},
    nullptr};

// The wallet queries' columns: every field, in WalletFields' order.
constexpr WalletFields::Columns all_wallet_columns = {1, 2, 3,  4,  5,  6,  7,
                                                      8, 9, 10, 11, 12, 13, 14};
// q_balance's: the first six.
constexpr WalletFields::Columns balance_columns = {1, 2, 3, 4, 5, 6};

WalletRow decode_wallet_row(const WalletFields::Columns& columns = all_wallet_columns) {
  WalletFields f;
  pg_try([&] { f.read(row(0), columns); });
  return f.finish();
}

// Decodes reservation columns 1..6 (id, amount, captured, expires, created, updated)
// and, when state_col is not 0, the state.
void decode_reservation(const Row& r, core::Reservation* out, int state_col, char** state,
                        int first = 1) {
  read_reservation_columns(r, first, out);
  if (state_col) *state = r.cstring_at(state_col);
}

std::vector<core::Reservation> decode_reservations(uint64 n, bool with_state) {
  std::vector<core::Reservation> out(n);
  std::vector<char*> states(n, nullptr);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      Row r = row(i);
      decode_reservation(r, &out[i], with_state ? 7 : 0, &states[i]);
      out[i].capture_on_expire = r.bool_at(with_state ? 8 : 7);
    }
  });
  for (uint64 i = 0; i < n; ++i)
    out[i].state = with_state ? state_of(states[i]) : core::ReservationState::active;
  return out;
}

std::vector<std::string> decode_text_column(uint64 n) {
  std::vector<char*> raw(n, nullptr);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) raw[i] = row(i).cstring_at(1);
  });
  return std::vector<std::string>(raw.begin(), raw.end());
}

Datum int64_datum(int64 v) {
  return Int64GetDatum(v);
}

// Decodes event columns seq, kind, amount, reservation_id, balance, reserved,
// expires_at, at starting at column 1.
void decode_event(const Row& r, core::Event* e, char** kind, int first = 1) {
  e->seq = r.int64_at(first);
  *kind = r.cstring_at(first + 1);
  e->amount = r.int64_at(first + 2);
  bool has_rid;
  core::Uuid rid;
  r.uuid_at(first + 3, &rid, &has_rid);
  if (has_rid) e->reservation_id = rid;
  e->balance = r.int64_at(first + 4);
  e->reserved = r.int64_at(first + 5);
  Micros expires_at;
  if (r.timestamp_at(first + 6, &expires_at)) e->expires_at = expires_at;
  r.timestamp_at(first + 7, &e->at);
}

// Copies a bytea fingerprint column into out when it has the right size.
void decode_fingerprint(const Row& r, int col, core::Fingerprint* out) {
  bool isnull;
  Datum d = r.get(col, &isnull);
  if (isnull) return;
  bytea* b = DatumGetByteaPP(d);
  if (VARSIZE_ANY_EXHDR(b) == out->size()) std::memcpy(out->data(), VARDATA_ANY(b), out->size());
}

}  // namespace

WalletRow WalletFields::finish() const {
  WalletRow out;
  out.unit = unit_text ? unit_text : "";
  out.state = state;
  if (has_last_at) out.state.last_at = last_at_value;
  out.policy = policy;
  if (has_max_active) out.policy.max_active = max_active_value;
  out.children = children_value;
  out.has_limits = limits;
  out.has_alerts = alerts;
  if (root_text) out.root_id = root_text;
  if (has_next_expiry) out.next_expiry = next_expiry_value;
  return out;
}

core::EventKind event_kind_of(const char* text) {
  auto kind = text ? core::parse_event_kind(text) : std::nullopt;
  if (!kind) throw core::LedgerError(core::sqlstate::internal_error, "unknown event kind");
  return *kind;
}

core::ReservationState state_of(const char* text) {
  auto state = text ? core::parse_reservation_state(text) : std::nullopt;
  if (!state) throw core::LedgerError(core::sqlstate::internal_error, "unknown reservation state");
  return *state;
}

// Reservation ids come from the strong random source, drawn a block at a
// time: one draw cost more than a reserve's three index lookups. The block
// belongs to the process that drew it (a forked child draws its own).
core::Uuid new_reservation_id() {
  static unsigned char block[1024];
  static std::size_t used = sizeof block;
  static pid_t owner = 0;
  core::Uuid id;
  if (used + id.bytes.size() > sizeof block || owner != getpid()) {
    pg_call([&] {
      if (!pg_strong_random(block, sizeof block))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not generate a random reservation id")));
    });
    used = 0;
    owner = getpid();
  }
  std::memcpy(id.bytes.data(), block + used, id.bytes.size());
  std::memset(block + used, 0, id.bytes.size());  // an id handed out is not kept
  used += id.bytes.size();
  id.bytes[6] = (id.bytes[6] & 0x0f) | 0x40;  // version 4
  id.bytes[8] = (id.bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return id;
}

Datum text_datum(const std::string& s) {
  return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), s.size())); });
}

Datum uuid_datum(const core::Uuid& id) {
  return pg_call([&] {
    auto* u = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    std::memcpy(u->data, id.bytes.data(), UUID_LEN);
    return UUIDPGetDatum(u);
  });
}

Datum bytea_datum(const void* data, std::size_t size) {
  return pg_call([&] {
    bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + size));
    SET_VARSIZE(b, VARHDRSZ + size);
    std::memcpy(VARDATA(b), data, size);
    return PointerGetDatum(b);
  });
}

core::Uuid uuid_from_datum(Datum d) {
  core::Uuid id;
  std::memcpy(id.bytes.data(), DatumGetUUIDP(d)->data, UUID_LEN);
  return id;
}

namespace {
Oid innermost_caller = InvalidOid;

// The owner of the extension's tables.
Oid ledger_owner() {
  Oid rel = relations::oid("events");
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "baseledger: ledger.events not found");
  Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return owner;
}
}  // namespace

Session connect() {
  Session s{};
  pg_try([&] {
    s.caller = GetUserId();
    s.outer_caller = innermost_caller;
    GetUserIdAndSecContext(&s.saved_user, &s.saved_security);
    const Oid owner = ledger_owner();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "baseledger: SPI_connect failed");
    SetUserIdAndSecContext(owner, s.saved_security | SECURITY_LOCAL_USERID_CHANGE);
    s.guc_level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    innermost_caller = s.caller;
    s.relations_outer = relations::begin_call();
  });
  return s;
}

void finish(const Session& s) {
  pg_try([&] {
    relations::end_call(s.relations_outer);
    AtEOXact_GUC(true, s.guc_level);
    SetUserIdAndSecContext(s.saved_user, s.saved_security);
    innermost_caller = s.outer_caller;
    SPI_finish();
  });
}

Oid current_caller() {
  return innermost_caller;
}

std::optional<WalletRow> load_wallet_for_write(const std::string& wallet_id) {
  if (direct_read::applies()) return direct_read::wallet(wallet_id);
  Datum args[1] = {text_datum(wallet_id)};
  Query& q = IsolationUsesXactSnapshot() ? q_wallet_rr : q_wallet_rc;
  if (run(q, args, nullptr, false) == 0) return std::nullopt;
  return decode_wallet_row();
}

bool wallet_created_after_snapshot(const std::string& wallet_id) {
  if (!IsolationUsesXactSnapshot()) return false;
  Datum args[1] = {text_datum(wallet_id)};
  return pg_call([&] {
    int rc = SPI_execute_snapshot(plan_of(q_wallet_exists), args, nullptr, GetLatestSnapshot(),
                                  InvalidSnapshot, true, false, 1);
    if (rc < 0)
      elog(ERROR, "baseledger: SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
    return SPI_processed > 0;
  });
}

bool insert_wallet(const std::string& wallet_id, const std::string& unit, Micros at, Datum metadata,
                   bool metadata_null, bool capped, const std::string& root_id) {
  Datum args[6] = {text_datum(wallet_id),   text_datum(unit),
                   TimestampTzGetDatum(at), metadata,
                   BoolGetDatum(capped),    text_datum(root_id.empty() ? wallet_id : root_id)};
  const char nulls[6] = {' ', ' ', ' ', metadata_null ? 'n' : ' ', ' ', ' '};
  return run(q_insert_wallet, args, nulls, false) == 1;
}

void count_child(const std::string& parent) {
  Datum args[1] = {text_datum(parent)};
  run(q_count_child, args, nullptr, false);
}

std::optional<KeyedEvent> find_event_by_key(const std::string& wallet_id, const std::string& key) {
  if (direct_read::applies()) return direct_read::event_by_key(wallet_id, key);
  Datum args[2] = {text_datum(wallet_id), text_datum(key)};
  if (run(q_find_key, args, nullptr, false) == 0) return std::nullopt;
  KeyedEvent out;
  char* kind = nullptr;
  pg_try([&] {
    Row r = row(0);
    decode_event(r, &out.event, &kind);
    decode_fingerprint(r, 9, &out.fingerprint);
  });
  out.event.kind = event_kind_of(kind);
  out.event.from_command = true;
  return out;
}

std::vector<core::Reservation> load_due(const std::string& wallet_id, Micros now,
                                        std::int64_t limit) {
  std::optional<Micros> ignored;
  return load_due(wallet_id, now, limit, &ignored);
}

std::vector<core::Reservation> load_due(const std::string& wallet_id, Micros now,
                                        std::int64_t limit, std::optional<Micros>* next_expiry) {
  *next_expiry = std::nullopt;
  if (direct_read::applies())
    if (auto due = direct_read::due(wallet_id, now, limit, next_expiry)) return *due;
  Datum args[3] = {text_datum(wallet_id), TimestampTzGetDatum(now), int64_datum(limit)};
  return decode_reservations(run(q_due, args, nullptr, false), false);
}

Micros tree_next_expiry(const std::string& root, Micros after) {
  Datum args[2] = {text_datum(root), TimestampTzGetDatum(after)};
  run(q_tree_next_expiry, args, nullptr, false);
  Micros out = no_expiry;
  pg_try([&] { row(0).timestamp_at(1, &out); });
  return out;
}

std::vector<OwnedHold> load_due_tree(const std::string& root, Micros now, std::int64_t limit) {
  Datum args[3] = {text_datum(root), TimestampTzGetDatum(now), int64_datum(limit)};
  const uint64 n = run(q_due_tree, args, nullptr, false);
  std::vector<core::Reservation> holds = decode_reservations(n, false);
  std::vector<std::string> owners(n);
  std::vector<char*> raw(n, nullptr);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) raw[i] = row(i).cstring_at(8);
  });
  std::vector<OwnedHold> out(n);
  for (uint64 i = 0; i < n; ++i) out[i] = OwnedHold{holds[i], raw[i] ? raw[i] : ""};
  return out;
}

std::optional<core::Reservation> load_reservation(const std::string& wallet_id,
                                                  const core::Uuid& id, bool read_only) {
  if (!read_only && direct_read::applies()) return direct_read::reservation(wallet_id, id);
  Datum args[2] = {text_datum(wallet_id), uuid_datum(id)};
  if (run(q_reservation, args, nullptr, read_only) == 0) return std::nullopt;
  return decode_reservations(1, true).front();
}

void persist_tree(const core::TreeDecision& decision, const CommandRecord& command) {
  const std::size_t command_wallet = decision.command_wallet.value_or(SIZE_MAX);
  // Who each hold belongs to, for its events at the owner's ancestors.
  std::vector<std::pair<core::Uuid, const std::string*>> owners;
  for (std::size_t i = 0; i < decision.reservations.size(); ++i)
    owners.emplace_back(decision.reservations[i].id,
                        &decision.wallets[decision.reservation_owner[i]].wallet_id);
  const std::string* command_origin =
      command_wallet == SIZE_MAX ? nullptr : &decision.wallets[command_wallet].wallet_id;

  WriteSet set;
  for (std::size_t w = 0; w < decision.wallets.size(); ++w) {
    if (decision.events[w].empty()) continue;
    const std::string* id = &decision.wallets[w].wallet_id;
    set.wallets.push_back({id, decision.wallets[w].state});
    if (command.root && *command.root == *id)
      set.wallets.back().next_expiry = command.root_next_expiry;
    for (const core::Event& e : decision.events[w]) {
      WriteSet::EventRow row{id, &e};
      if (e.from_command) {
        row.idempotency_key = command.idempotency_key;
        row.fingerprint = command.fingerprint;
        row.metadata = command.metadata;
        row.metadata_null = command.metadata_null;
        row.metadata_text = command.metadata_text;
      } else {
        // An ancestor's record of another wallet's call or hold.
        const std::string* origin = nullptr;
        if (e.kind == core::EventKind::expire) {
          for (const auto& [rid, owner] : owners)
            if (e.reservation_id && rid == *e.reservation_id) origin = owner;
        } else {
          origin = command_origin;
        }
        if (origin && *origin != *id) row.origin = origin;
      }
      set.events.push_back(row);
    }
  }
  for (std::size_t i = 0; i < decision.reservations.size(); ++i)
    (decision.reservation_is_new[i] ? set.inserted : set.updated)
        .push_back({&decision.wallets[decision.reservation_owner[i]].wallet_id,
                    &decision.reservations[i]});
  write(set);
}

std::optional<BalanceRow> load_balance(const std::string& wallet_id, Micros now, bool read_only) {
  Datum args[2] = {text_datum(wallet_id), TimestampTzGetDatum(now)};
  if (run(q_balance, args, nullptr, read_only) == 0) return std::nullopt;
  const WalletRow w = decode_wallet_row(balance_columns);
  BalanceRow out;
  out.unit = w.unit;
  out.state = w.state;
  pg_try([&] {
    Row r = row(0);
    out.lapsed_amount = r.int64_at(7);
    out.lapsed_count = r.int64_at(8);
    out.lapsed_captured = r.int64_at(9);
  });
  return out;
}

bool wallet_exists(const std::string& wallet_id, bool read_only) {
  Datum args[1] = {text_datum(wallet_id)};
  return run(q_wallet_exists, args, nullptr, read_only) > 0;
}

void put_history(FunctionCallInfo fcinfo, const std::string& wallet_id, std::int64_t after_seq,
                 std::int32_t max_rows) {
  const Datum wallet = text_datum(wallet_id);
  Datum args[3] = {wallet, int64_datum(after_seq), int64_datum(max_rows)};
  uint64 n = run(q_history, args, nullptr, true);
  pg_try([&] {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (uint64 i = 0; i < n; ++i) {
      Datum values[10];
      bool nulls[10];
      values[0] = wallet;
      nulls[0] = false;
      for (int col = 1; col <= 9; ++col)
        values[col] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col, &nulls[col]);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
}

std::vector<DueWallet> find_due_wallets(Micros now, std::int64_t max_rows) {
  Datum args[2] = {TimestampTzGetDatum(now), int64_datum(max_rows)};
  uint64 n = run(q_due_wallets, args, nullptr, false);
  std::vector<std::string> ids = decode_text_column(n);
  std::vector<DueWallet> out(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) out[i].count = row(i).int64_at(2);
  });
  for (uint64 i = 0; i < n; ++i) out[i].wallet_id = ids[i];
  return out;
}

std::vector<std::string> all_wallet_ids() {
  return decode_text_column(run(q_all_wallets, nullptr, nullptr, true));
}

std::vector<std::string> orphan_event_wallet_ids() {
  return decode_text_column(run(q_orphan_events, nullptr, nullptr, true));
}

std::vector<std::string> orphan_reservation_wallet_ids() {
  return decode_text_column(run(q_orphan_reservations, nullptr, nullptr, true));
}

bool next_expiry_too_late(const std::string& wallet_id) {
  Datum args[1] = {text_datum(wallet_id)};
  if (run(q_next_expiry_too_late, args, nullptr, true) == 0) return false;
  bool late = false;
  pg_try([&] { late = row(0).bool_at(1); });
  return late;
}

std::optional<core::WalletState> load_wallet_snapshot(const std::string& wallet_id) {
  Datum args[1] = {text_datum(wallet_id)};
  if (run(q_wallet_snapshot, args, nullptr, true) == 0) return std::nullopt;
  return decode_wallet_row().state;
}

core::Policy load_wallet_policy(const std::string& wallet_id) {
  Datum args[1] = {text_datum(wallet_id)};
  if (run(q_wallet_snapshot, args, nullptr, true) == 0) return core::Policy{};
  return decode_wallet_row().policy;
}

std::vector<core::Reservation> load_wallet_reservations(const std::string& wallet_id) {
  Datum args[1] = {text_datum(wallet_id)};
  return decode_reservations(run(q_wallet_reservations, args, nullptr, true), true);
}

struct EventCursor {
  Portal portal;
  bool has_origin;
};

EventCursor* open_event_cursor(const std::string& wallet_id) {
  Datum args[1] = {text_datum(wallet_id)};
  return pg_call([&] {
    auto* c = static_cast<EventCursor*>(palloc(sizeof(EventCursor)));
    const Oid events = get_relname_relid("events", get_namespace_oid("ledger", false));
    c->has_origin = get_attnum(events, "origin_wallet_id") != InvalidAttrNumber;
    c->portal = SPI_cursor_open(nullptr, plan_of(c->has_origin ? q_events : q_events_before_0_3),
                                args, nullptr, true);
    return c;
  });
}

std::size_t fetch_events(EventCursor* cursor, std::vector<StoredEvent>* out) {
  uint64 n = pg_call([&] {
    SPI_cursor_fetch(cursor->portal, true, static_cast<long>(out->size()));
    return SPI_processed;
  });
  struct Raw {
    char* kind;
    char* key;
    char* metadata;
    char* origin;
    bool has_fingerprint;
    bool has_hash;
  };
  std::vector<Raw> raw(n);
  pg_try([&] {
    for (uint64 i = 0; i < n; ++i) {
      StoredEvent& e = (*out)[i];
      e.event = core::Event{};
      Row r = row(i);
      decode_event(r, &e.event, &raw[i].kind);
      raw[i].key = r.cstring_at(9);
      raw[i].has_fingerprint = r.bytes_at(10, e.fingerprint.data(), e.fingerprint.size());
      raw[i].metadata = r.cstring_at(11);
      raw[i].has_hash = r.bytes_at(12, e.hash.data(), e.hash.size());
      raw[i].origin = cursor->has_origin ? r.cstring_at(13) : nullptr;
    }
  });
  for (uint64 i = 0; i < n; ++i) {
    StoredEvent& e = (*out)[i];
    e.event.kind = event_kind_of(raw[i].kind);
    e.key = raw[i].key ? std::optional<std::string>(raw[i].key) : std::nullopt;
    e.metadata = raw[i].metadata ? std::optional<std::string>(raw[i].metadata) : std::nullopt;
    e.origin = raw[i].origin ? std::optional<std::string>(raw[i].origin) : std::nullopt;
    e.has_fingerprint = raw[i].has_fingerprint;
    e.has_hash = raw[i].has_hash;
  }
  pg_call([] { SPI_freetuptable(SPI_tuptable); });
  return n;
}

void close_event_cursor(EventCursor* cursor) {
  pg_call([&] { SPI_cursor_close(cursor->portal); });
}

}  // namespace baseledger::pg::storage
