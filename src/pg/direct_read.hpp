// The write path's reads below SPI: one index lookup each, through the table
// access method, with no plan, executor or projection to set up. A reserve
// makes three of them (the wallet row, its key's event, its due holds); over
// SPI they cost more than the writes that follow.
//
// They serve READ COMMITTED only. Under REPEATABLE READ and SERIALIZABLE the
// SPI statements stay: there the wallet row is read FOR NO KEY UPDATE so that
// a stale snapshot raises 40001, and SERIALIZABLE's predicate locks come with
// the executor's scans.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/storage.hpp"

namespace baseledger::pg::direct_read {

// True when the reads may bypass SPI (the transaction is READ COMMITTED).
bool applies();

// Each read takes a new snapshot after a command counter increment, as an SPI
// statement does, so it sees what this transaction and every transaction
// committed before it (in particular the previous holder of the wallet's
// lock) wrote.
std::optional<storage::WalletRow> wallet(const std::string& wallet_id);
std::optional<storage::KeyedEvent> event_by_key(const std::string& wallet_id,
                                                const std::string& key);
// Active holds with expires_at <= now, earliest first, at most limit of them,
// and in *next_expiry the earliest expiry of the wallet's active holds (those
// returned included; storage::no_expiry for none; untouched when the limit
// cut the list short); nullopt when there are more than a dozen (the caller
// asks SPI).
std::optional<std::vector<core::Reservation>> due(const std::string& wallet_id, core::Micros now,
                                                  std::int64_t limit,
                                                  std::optional<core::Micros>* next_expiry);
std::optional<core::Reservation> reservation(const std::string& wallet_id, const core::Uuid& id);

}  // namespace baseledger::pg::direct_read
