// The write path of every call: a wallet, its ancestors and the lapsed holds
// of its tree. Locks are taken root first; the root's lock makes the caller
// the tree's only writer, so any wallet of the tree may then be locked too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/decide.hpp"
#include "core/fingerprint.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg::tree_write {

// The wallet's path, root first: "a", "a/b", "a/b/c".
std::vector<std::string> path_of(const std::string& wallet_id);

// Sorts wallet ids (and drops duplicates) into the order every caller takes
// wallet locks in: by tree (the lock key of the id's first segment), then by
// id, which puts every ancestor before its descendants.
void sort_for_locking(std::vector<std::string>* ids);

// Locks the wallet's path, root first.
void lock_path(const std::string& wallet_id);

// A write decided and ready to store: nothing is written until store().
struct Prepared {
  bool replayed = false;
  core::Event replayed_event;  // when replayed
  core::TreeDecision decision;
  std::string root;                              // the root of the wallet's tree
  std::optional<core::Micros> root_next_expiry;  // as this call found it (see storage.hpp)
};

// Loads what the call needs (the path's locks must be held) and decides.
// Throws LedgerError for a refusal, before anything is written.
Prepared prepare(const std::string& wallet_id, const std::string& key, const core::Command& command,
                 const core::Fingerprint& fingerprint);

// Stores a decision: events, projections, reservations, period use, alerts.
void store(const core::TreeDecision& decision, const storage::CommandRecord& record);
// The same for a prepared call: also stores what it learnt of the root's next expiry.
void store(const Prepared& prepared, storage::CommandRecord record);

// Expires up to max_rows lapsed holds of the root's tree, soonest lapsed
// first (the root's lock held); returns how many.
std::int64_t expire_tree(const std::string& root, std::int64_t max_rows);

}  // namespace baseledger::pg::tree_write
