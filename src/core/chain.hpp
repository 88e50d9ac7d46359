// The tamper-evident trail: each event carries a SHA-256 over the previous
// event's hash and its own canonical content, so altering, removing or
// reordering any event breaks every hash after it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/fingerprint.hpp"
#include "core/types.hpp"

namespace baseledger::core {

using Hash = std::array<std::uint8_t, 32>;

// The "previous hash" of a wallet's first event: 32 zero bytes.
inline constexpr Hash genesis_hash{};

// What an event stores besides its ledger fields.
struct EventRequest {
  const std::string* idempotency_key = nullptr;  // null for expire events
  const Fingerprint* fingerprint = nullptr;
  const std::string* metadata = nullptr;  // canonical jsonb text, or null
  // An ancestor's event: the wallet the call or the hold belongs to (null
  // otherwise, which hashes as before 0.3.0).
  const std::string* origin = nullptr;
};

Hash event_hash(const Hash& previous, std::string_view wallet_id, const Event& event,
                const EventRequest& request);

std::string to_hex(const Hash& hash);

}  // namespace baseledger::core
