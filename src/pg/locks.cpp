// Wallet locks: advisory locks whose fourth tag field is our own lock class,
// so they never collide with pg_advisory_lock() keys taken by applications.
// pg_locks shows them as advisory locks with objsubid 19522.
#include "pg/locks.hpp"

#include "pg/error_wall.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg {

namespace {

constexpr uint16 kWalletLockClass = 0x4C42;  // "LB"

LockAcquireResult acquire(std::uint64_t key, bool dont_wait) {
  return pg_call([&] {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(key >> 32),
                         static_cast<uint32>(key), kWalletLockClass);
    return LockAcquire(&tag, ExclusiveLock, false, dont_wait);
  });
}

}  // namespace

void lock_wallet(std::uint64_t key) {
  acquire(key, false);
}

bool try_lock_wallet(std::uint64_t key) {
  return acquire(key, true) != LOCKACQUIRE_NOT_AVAIL;
}

}  // namespace baseledger::pg
