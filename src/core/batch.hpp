// Many write requests in one call. Each element is decided on the state that
// the elements before it (in the same wallet) left behind; its key is checked
// against the stored keys and those used earlier in the batch. A refused
// element writes nothing and does not stop the others.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/decide.hpp"
#include "core/fingerprint.hpp"
#include "core/types.hpp"

namespace baseledger::core {

struct KnownKey {
  Event event;
  Fingerprint fingerprint{};
};

// One wallet's state during a batch, and the writes the batch owes it.
struct BatchWallet {
  WalletState state;
  Policy policy;
  // A root without children, limits or alerts; other wallets' elements take
  // the single calls' path.
  bool stands_alone = true;
  std::vector<Reservation> due;              // lapsed holds not yet expired by an event
  std::map<Uuid, Reservation> reservations;  // targets, and holds the batch created or closed
  std::map<std::string, KnownKey> keys;      // stored keys the batch names, and keys it used
  // Not used by the core: the storage layer's bound on the wallet's next
  // hold expiry (nullopt: unknown), carried from its load to its write.
  std::optional<Micros> next_expiry;

  // Writes, in order: events (event_elements[i] is the element index of
  // events[i], or -1 for an expire event), and each reservation's final row.
  std::vector<Event> events;
  std::vector<int> event_elements;
  std::map<Uuid, bool> changed_reservations;  // id -> inserted by this batch
};

struct ElementOutcome {
  const char* sqlstate = "00000";
  std::string message;
  Event event;  // valid when sqlstate is "00000"
  bool replayed = false;
};

// Decides one element against its wallet and records its writes there.
ElementOutcome apply_element(BatchWallet& wallet, int element, const std::string& key,
                             const Command& command, const Fingerprint& fingerprint, Micros clock,
                             const Uuid& new_reservation_id,
                             std::int64_t max_active_reservations = INT64_MAX);

}  // namespace baseledger::core
