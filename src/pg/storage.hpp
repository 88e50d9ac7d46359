// Storage of wallets, events and reservations through SPI with plans prepared
// once per backend. Every query names its objects with their schema.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/chain.hpp"
#include "core/decide.hpp"
#include "core/fingerprint.hpp"
#include "core/types.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::storage {

// One SQL call's access to the tables: an SPI connection, the extension
// owner's rights (the tables are the owner's alone) and search_path pinned
// to pg_catalog, pg_temp, so that no object of the caller's can stand in
// for one of ours. On error, transaction abort undoes all three.
struct Session {
  Oid caller;        // the role that called the SQL function
  Oid outer_caller;  // the enclosing session's caller, restored by finish()
  Oid saved_user;
  int saved_security;
  int guc_level;
  int relations_outer;  // relations::begin_call()'s, for relations::end_call()
};
Session connect();
void finish(const Session& session);
// The caller of the innermost open session.
Oid current_caller();

// wallets.next_expiry of a wallet without open holds: PostgreSQL's infinity.
inline constexpr core::Micros no_expiry = std::numeric_limits<std::int64_t>::max();

struct WalletRow {
  std::string unit;
  core::WalletState state;
  core::Policy policy;
  std::int64_t children = 0;
  bool has_limits = false;
  bool has_alerts = false;
  std::string root_id;  // the root of its tree (itself for a root)
  // No active hold of the subtree expires before it (no_expiry: none
  // is open); nullopt when unknown. A cache of the write path.
  std::optional<core::Micros> next_expiry;

  bool is_root(const std::string& wallet_id) const {
    return root_id.empty() || root_id == wallet_id;
  }

  // A root without children and without period limits or alerts: the one-
  // wallet fast path serves it.
  bool stands_alone(const std::string& wallet_id) const {
    return children == 0 && !has_limits && !has_alerts && is_root(wallet_id);
  }
};

// Reads a reservation's id, amount, captured, expires_at, created_at and
// updated_at from the columns col[0..5] of any row reader (inside pg_try).
template <class Reader>
void read_reservation_columns(const Reader& r, const int (&col)[6], core::Reservation* out) {
  bool present;
  r.uuid_at(col[0], &out->id, &present);
  out->amount = r.int64_at(col[1]);
  out->captured = r.int64_at(col[2]);
  r.timestamp_at(col[3], &out->expires_at);
  r.timestamp_at(col[4], &out->created_at);
  r.timestamp_at(col[5], &out->updated_at);
}
// The same from six consecutive columns starting at `first`.
template <class Reader>
void read_reservation_columns(const Reader& r, int first, core::Reservation* out) {
  const int col[6] = {first, first + 1, first + 2, first + 3, first + 4, first + 5};
  read_reservation_columns(r, col, out);
}

// A wallet row's fields as read inside pg_try (plain data), from any row
// reader (spi::Row, direct::SlotRow) given the column number of each field in
// that row; 0 for a field the row does not have. finish() makes the WalletRow.
struct WalletFields {
  enum Field {
    unit,
    balance,
    reserved,
    active_reservations,
    last_seq,
    last_at,
    last_hash,
    overdraft,
    max_active,
    children,
    has_limits,
    has_alerts,
    root_id,
    next_expiry,
    count
  };
  using Columns = int[count];

  char* unit_text = nullptr;
  char* root_text = nullptr;
  core::WalletState state;
  core::Policy policy;
  core::Micros last_at_value = 0, next_expiry_value = 0;
  std::int64_t max_active_value = 0, children_value = 0;
  bool has_last_at = false, has_max_active = false, has_next_expiry = false;
  bool limits = false, alerts = false;

  template <class Reader>
  void read(const Reader& r, const Columns& col) {
    bool isnull;
    if (col[unit]) unit_text = r.cstring_at(col[unit]);
    state.balance = r.int64_at(col[balance]);
    state.reserved = r.int64_at(col[reserved]);
    state.active_reservations = r.int64_at(col[active_reservations]);
    state.last_seq = r.int64_at(col[last_seq]);
    has_last_at = r.timestamp_at(col[last_at], &last_at_value);
    if (col[last_hash]) r.bytes_at(col[last_hash], state.last_hash.data(), state.last_hash.size());
    if (col[overdraft]) {
      Datum d = r.get(col[overdraft], &isnull);
      policy.capped = !isnull;  // an uncapped wallet has no credit line
      policy.overdraft = isnull ? 0 : DatumGetInt64(d);
    }
    if (col[max_active]) {
      Datum d = r.get(col[max_active], &isnull);
      has_max_active = !isnull;
      if (!isnull) max_active_value = DatumGetInt32(d);
    }
    if (col[children]) children_value = r.int64_at(col[children]);
    if (col[has_limits]) limits = r.bool_at(col[has_limits]);
    if (col[has_alerts]) alerts = r.bool_at(col[has_alerts]);
    if (col[root_id]) root_text = r.cstring_at(col[root_id]);
    if (col[next_expiry]) has_next_expiry = r.timestamp_at(col[next_expiry], &next_expiry_value);
  }
  WalletRow finish() const;
};

// Reads the wallet. Under REPEATABLE READ and SERIALIZABLE the row is locked
// too, which raises 40001 when another transaction changed it after this
// transaction's snapshot was taken: a decision never rests on a stale balance.
std::optional<WalletRow> load_wallet_for_write(const std::string& wallet_id);

// Under REPEATABLE READ and SERIALIZABLE: true when a wallet missing from the
// transaction's snapshot has been created since, so the caller reports 40001
// (retry) rather than "wallet not found".
bool wallet_created_after_snapshot(const std::string& wallet_id);

// Inserts the wallet unless it exists; true when inserted.
bool insert_wallet(const std::string& wallet_id, const std::string& unit, core::Micros at,
                   Datum metadata, bool metadata_null, bool capped = true,
                   const std::string& root_id = std::string());
// Counts a new child in its parent's row.
void count_child(const std::string& parent);

struct KeyedEvent {
  core::Event event;
  core::Fingerprint fingerprint{};
};
std::optional<KeyedEvent> find_event_by_key(const std::string& wallet_id, const std::string& key);

// Whether the wallet's next_expiry is later than the expiry of an open hold
// of its tree (for ledger_verify: a write could then miss a lapsed hold).
bool next_expiry_too_late(const std::string& wallet_id);

// The earliest expiry of the active holds of the root's tree after `after`
// (no_expiry when there is none).
core::Micros tree_next_expiry(const std::string& root, core::Micros after);

// Active holds of the wallet with expires_at <= now, at most limit of them.
std::vector<core::Reservation> load_due(const std::string& wallet_id, core::Micros now,
                                        std::int64_t limit);
// The same, and the wallet's next expiry after them (the earliest expiry of
// its active holds, those returned included; nullopt when unknown).
std::vector<core::Reservation> load_due(const std::string& wallet_id, core::Micros now,
                                        std::int64_t limit,
                                        std::optional<core::Micros>* next_expiry);
// Active holds of the root's whole tree with expires_at <= now, with their owners.
struct OwnedHold {
  core::Reservation hold;
  std::string owner;
};
std::vector<OwnedHold> load_due_tree(const std::string& root, core::Micros now, std::int64_t limit);
std::optional<core::Reservation> load_reservation(const std::string& wallet_id,
                                                  const core::Uuid& id, bool read_only = false);

// What a write stores besides the decision: the command's key and request.
struct CommandRecord {
  const std::string* idempotency_key = nullptr;
  const core::Fingerprint* fingerprint = nullptr;
  Datum metadata = 0;
  bool metadata_null = true;
  const std::string* metadata_text = nullptr;
  // The tree's root and what the write learnt of its next expiry (see
  // WalletRow::next_expiry); other wallets' become unknown.
  const std::string* root = nullptr;
  std::optional<core::Micros> root_next_expiry;
};
// Appends the events of a decision over one wallet or several wallets of a
// tree, updates the projections and the reservations.
void persist_tree(const core::TreeDecision& decision, const CommandRecord& command);

struct BalanceRow {
  std::string unit;
  core::WalletState state;
  core::Amount lapsed_amount = 0;
  std::int64_t lapsed_count = 0;
  core::Amount lapsed_captured = 0;  // of which on_expire => 'capture'
};
// One consistent read of the wallet and of its lapsed holds as of now.
std::optional<BalanceRow> load_balance(const std::string& wallet_id, core::Micros now,
                                       bool read_only);

bool wallet_exists(const std::string& wallet_id, bool read_only);

// Adds a page of the wallet's events to the set-returning function's result.
void put_history(FunctionCallInfo fcinfo, const std::string& wallet_id, std::int64_t after_seq,
                 std::int32_t max_rows);

struct DueWallet {
  std::string wallet_id;
  std::int64_t count = 0;
};
// Wallets with lapsed holds, for the sweep: the max_rows earliest holds.
std::vector<DueWallet> find_due_wallets(core::Micros now, std::int64_t max_rows);

// Read-only helpers for ledger_verify, on the calling statement's snapshot.
std::vector<std::string> all_wallet_ids();
std::vector<std::string> orphan_event_wallet_ids();
std::vector<std::string> orphan_reservation_wallet_ids();
std::optional<core::WalletState> load_wallet_snapshot(const std::string& wallet_id);
// The reservations of the wallet's subtree (its events name them all).
std::vector<core::Reservation> load_wallet_reservations(const std::string& wallet_id);
// The policy of a wallet, for verify (default when the wallet is missing).
core::Policy load_wallet_policy(const std::string& wallet_id);
// An event as stored, with what the hash chain covers besides its ledger fields.
struct StoredEvent {
  core::Event event;
  std::optional<std::string> key;
  core::Fingerprint fingerprint{};
  bool has_fingerprint = false;
  std::optional<std::string> metadata;  // canonical text
  std::optional<std::string> origin;    // origin_wallet_id
  core::Hash hash{};
  bool has_hash = false;

  core::EventRequest request() const {
    return core::EventRequest{key ? &*key : nullptr, has_fingerprint ? &fingerprint : nullptr,
                              metadata ? &*metadata : nullptr, origin ? &*origin : nullptr};
  }
  std::optional<core::Hash> stored_hash() const {
    return has_hash ? std::optional<core::Hash>(hash) : std::nullopt;
  }
};
// Streams a wallet's events in seq order to fn, a batch at a time.
template <typename Fn>
void for_each_event(const std::string& wallet_id, Fn&& fn);

// Conversions shared by the SQL entry points.
core::EventKind event_kind_of(const char* text);    // XX000 for an unknown label
core::ReservationState state_of(const char* text);  // XX000 for an unknown label
core::Uuid new_reservation_id();                    // a random version 4 uuid
Datum text_datum(const std::string& s);
Datum uuid_datum(const core::Uuid& id);
Datum bytea_datum(const void* data, std::size_t size);
core::Uuid uuid_from_datum(Datum d);

// --- implementation of the template ---
struct EventCursor;
EventCursor* open_event_cursor(const std::string& wallet_id);
// Fills out with up to out->size() events; returns how many were read.
std::size_t fetch_events(EventCursor* cursor, std::vector<StoredEvent>* out);
void close_event_cursor(EventCursor* cursor);

template <typename Fn>
void for_each_event(const std::string& wallet_id, Fn&& fn) {
  EventCursor* cursor = open_event_cursor(wallet_id);
  std::vector<StoredEvent> batch(1000);
  for (;;) {
    std::size_t n = fetch_events(cursor, &batch);
    for (std::size_t i = 0; i < n; ++i) fn(batch[i]);
    if (n < batch.size()) break;
  }
  close_event_cursor(cursor);
}

}  // namespace baseledger::pg::storage
