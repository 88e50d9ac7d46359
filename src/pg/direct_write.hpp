// A call's writes below SPI: the wallets' projections, the events, the
// reservations inserted or updated, each written through the table access
// method with its index entries and its table's constraints (NOT NULL and
// CHECK, evaluated by the executor's own routine), with no plan or executor
// to set up.
//
// Like direct_read, for READ COMMITTED only, and not in a read-only
// transaction (the statements refuse the write there with 25006). A table
// with triggers for the operation, rules, or row security forced on its owner
// is written through SPI, so that nothing the SQL statement would do is
// skipped. Each function returns the number of rows written, or -1 when the
// SQL statement must be run instead (and then has written nothing).
#pragma once

#include "pg/postgres_headers.hpp"

namespace baseledger::pg::direct_write {

bool applies();

// Each writes `rows` rows whose values follow one another, in this order:
// wallet_id, balance, reserved, active_reservations, last_seq, last_at, last_hash,
// next_expiry
int64 update_wallets(int rows, const Datum* values, const bool* nulls);
// wallet_id, seq, kind (text), amount, reservation_id, idempotency_key,
// fingerprint, balance, reserved, expires_at, at, metadata, hash, origin_wallet_id
int64 insert_events(int rows, const Datum* values, const bool* nulls);
// wallet_id, reservation_id, amount, captured, state (text), expires_at,
// created_at, updated_at, capture_on_expire
int64 insert_reservations(int rows, const Datum* values, const bool* nulls);
// wallet_id, reservation_id (the key); captured, state (text), expires_at, updated_at
int64 update_reservations(int rows, const Datum* values, const bool* nulls);

}  // namespace baseledger::pg::direct_write
