// Request fingerprints (idempotency) and wallet lock keys, both from SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/types.hpp"

namespace baseledger::core {

using Fingerprint = std::array<std::uint8_t, 32>;

// SHA-256 over a length-prefixed encoding of every argument that defines the
// request (kind, amount, ttl, reservation, metadata). The wallet and the key
// are not included: they select the event the fingerprint is compared with.
Fingerprint fingerprint(const Command& command);

// A 64-bit advisory lock key for a wallet: the first 8 bytes of a SHA-256 of
// the wallet id, so that distinct wallets practically never share a lock.
std::uint64_t wallet_lock_key(std::string_view wallet_id);

}  // namespace baseledger::core
