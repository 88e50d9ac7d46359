// Bulk storage for the batch calls: one statement per table however many
// elements the batch has, with the rows passed as arrays and unnested.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::batch_storage {

// What the batch's elements store besides the core's events.
struct ElementRecord {
  const std::string* idempotency_key = nullptr;
  const core::Fingerprint* fingerprint = nullptr;
  Datum metadata = 0;
  bool metadata_null = true;
  const std::string* metadata_text = nullptr;
};

using Wallets = std::map<std::string, core::BatchWallet>;

// Loads the wallets that exist (locked rows under REPEATABLE READ and SERIALIZABLE).
void load_wallets(const std::vector<std::string>& wallet_ids, Wallets* wallets);
// Adds the stored events of the given (wallet, key) pairs to each wallet's keys.
void load_keys(const std::vector<std::string>& wallet_ids, const std::vector<std::string>& keys,
               Wallets* wallets);
// Adds each wallet's active holds with expires_at <= now to its due list
// (the wallets' states must be loaded: those without active holds are
// skipped, and with trust_next_expiry those whose next expiry is later).
void load_due(core::Micros now, Wallets* wallets, bool trust_next_expiry = true);
// Adds the named reservations to their wallets.
void load_reservations(const std::vector<std::string>& wallet_ids,
                       const std::vector<core::Uuid>& ids, Wallets* wallets);
// Writes every wallet's events, reservations and projection.
void persist(const Wallets& wallets, const std::vector<ElementRecord>& elements);

}  // namespace baseledger::pg::batch_storage
