// The ledger's tables and indexes as the direct reads and writes open them.
//
// Their OIDs are looked up once per backend and forgotten on any relcache
// invalidation of one of them or any change to a schema (so a table dropped,
// renamed or created anew is found again). Within a call (storage::connect
// to storage::finish of the outermost session), a relation opened once stays
// open until the call ends, instead of being opened and closed by every read
// and write of the call. All of this runs inside pg_try().
#pragma once

#include <cstddef>

#include "pg/postgres_headers.hpp"

namespace baseledger::pg::relations {

// The OID of ledger.<name>.
Oid oid(const char* name);

// ledger.<name>, a table (index = false) or an index, locked in at least mode.
Relation open(const char* name, LOCKMODE mode, bool index);
// An index of a ledger table, by OID, locked in at least mode.
Relation open_index(Oid relid, LOCKMODE mode);
// Releases a relation from open(): closed now unless the call keeps it open.
// Locks are kept to the end of the transaction, as the executor keeps them.
void close(Relation rel);

// Where the call read a row, so that its update fetches the row by TID
// instead of looking it up through the index again. A hint is only a hint:
// the row found at the TID is used only if it is visible and has the key.
// key_hash hashes the key's bytes (a wallet id, then a reservation id).
uint64 key_hash(const char* text, std::size_t len, const unsigned char* uuid);
void remember_row(Oid relid, uint64 key_hash, ItemPointer tid);
bool recall_row(Oid relid, uint64 key_hash, ItemPointer tid);

// Brackets a call; begin returns the state that end takes back. The
// outermost call's relations are closed by its end; a call that ends with
// an error leaves them to the abort, which releases them.
int begin_call();
void end_call(int outer);

}  // namespace baseledger::pg::relations
