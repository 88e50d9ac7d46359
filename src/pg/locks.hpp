// Transaction-scoped advisory locks on wallets, in a key space of our own.
#pragma once

#include <cstdint>

namespace baseledger::pg {

// Waits for the wallet's lock; released at the end of the transaction.
void lock_wallet(std::uint64_t key);
// Takes the wallet's lock if it is free; false when another transaction holds it.
bool try_lock_wallet(std::uint64_t key);

}  // namespace baseledger::pg
