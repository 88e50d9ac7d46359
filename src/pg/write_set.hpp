// Everything one call writes: the wallet projections, the events, and the
// reservations inserted or updated. In READ COMMITTED the rows go below SPI
// (direct_write); otherwise a set of one row per table uses plain one-row
// statements, and a larger one (batches, trees, calls that also expire holds)
// one statement of data-modifying CTEs over arrays.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/chain.hpp"
#include "core/fingerprint.hpp"
#include "core/types.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg {

struct WriteSet {
  struct Wallet {
    const std::string* wallet_id;
    core::WalletState state;
    // What the caller knows of the earliest expiry of the subtree's holds
    // before this write (nullopt: unknown); write() lowers it to the expiry
    // of every hold the set reserves or extends at the wallet, and stores it.
    std::optional<core::Micros> next_expiry = std::nullopt;
  };
  struct EventRow {
    const std::string* wallet_id;
    const core::Event* event;
    // The client's request, for the command's event; null for expire events.
    const std::string* idempotency_key = nullptr;
    const core::Fingerprint* fingerprint = nullptr;
    Datum metadata = 0;
    bool metadata_null = true;
    const std::string* metadata_text = nullptr;  // canonical text, for the hash chain
    const std::string* origin = nullptr;  // an ancestor's event: whose call or hold it records
    core::Hash hash{};                    // set by write()
  };
  struct ReservationRow {
    const std::string* wallet_id;
    const core::Reservation* reservation;
  };

  std::vector<Wallet> wallets;
  std::vector<EventRow> events;
  std::vector<ReservationRow> inserted;
  std::vector<ReservationRow> updated;
};

// Stores the set, the projections first, so that under REPEATABLE READ a
// concurrent change raises 40001 before anything else; a unique violation
// on the idempotency key (impossible while callers hold the wallet lock) is
// reported as 40001 too, never as a bare 23505.
// Chains the events first: each wallet's events follow its stored head hash,
// and the wallet's new head is written with them.
void write(WriteSet& set);

}  // namespace baseledger::pg
