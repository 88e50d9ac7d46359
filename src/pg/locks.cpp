// Wallet locks: advisory locks whose fourth tag field is our own lock class,
// so they never collide with pg_advisory_lock() keys taken by applications.
// pg_locks shows them as advisory locks with objsubid 19522.
//
// Early lock release. A wallet's lock is held until its transaction commits,
// and with synchronous_commit a commit becomes visible only after its WAL
// flush: one wallet would make one commit per flush. When a transaction
// that took wallet locks commits, it commits asynchronously instead (it
// becomes visible without waiting for the flush), then releases its
// advisory locks, then flushes its commit record, all inside the commit and
// before the client is told of it. The next call on the wallet runs during
// the flush. Nothing is acknowledged before it is durable, and a commit that
// saw another's effects comes after it in the WAL, so it is never durable
// without it. A call that only replays an earlier result flushes all WAL
// written so far before it is acknowledged, since what it replays may be
// such a commit still in flight. What this gives up: a read (ledger_balance,
// a SELECT) may see a commit that a crash then takes back, whose caller was
// never told it succeeded. Not done when synchronous_commit is off (nothing
// waits for the flush anyway), with synchronous standbys (their wait stays
// under the lock), or when baseledger.early_lock_release is off.
#include "pg/locks.hpp"

#include "pg/error_wall.hpp"
#include "pg/postgres_headers.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "replication/syncrep.h"
}

namespace baseledger::pg {

namespace {

constexpr uint16 kWalletLockClass = 0x4C42;  // "LB"

// This transaction took a wallet lock.
bool took_lock = false;
// Decided before the commit record: release then flush (with the
// synchronous_commit level to restore), or only flush what was seen.
bool release_then_flush = false;
bool flush_seen = false;
int saved_synchronous_commit = SYNCHRONOUS_COMMIT_OFF;

// The end of the WAL inserted so far, as XLogFlush takes it: the insert
// position, or the start of its page when the page holds nothing yet but
// its header (the insert position then points past a header that may not
// be written yet, and a flush request there cannot be satisfied).
XLogRecPtr inserted_wal_end() {
  XLogRecPtr end = GetXLogInsertRecPtr();
  const uint32 header = XLogSegmentOffset(end, wal_segment_size) < XLOG_BLCKSZ ? SizeOfXLogLongPHD
                                                                               : SizeOfXLogShortPHD;
  if (end % XLOG_BLCKSZ == header) end -= header;
  return end;
}

// Nothing here may raise an error at COMMIT: the transaction has committed.
void on_xact(XactEvent event, void*) {
  if (!took_lock) return;
  switch (event) {
    case XACT_EVENT_PRE_COMMIT: {
      if (!early_lock_release() || synchronous_commit <= SYNCHRONOUS_COMMIT_OFF ||
          (SyncRepStandbyNames != nullptr && SyncRepStandbyNames[0] != '\0'))
        return;
      if (TransactionIdIsValid(GetTopTransactionIdIfAny())) {
        // RecordTransactionCommit reads this variable: set it for this commit
        // only, restored at COMMIT or ABORT below.
        saved_synchronous_commit = synchronous_commit;
        synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
        release_then_flush = true;
      } else {
        flush_seen = true;
      }
      return;
    }
    case XACT_EVENT_COMMIT:
      took_lock = false;
      if (release_then_flush) {
        synchronous_commit = saved_synchronous_commit;
        release_then_flush = false;
        // Visible already (ProcArrayEndTransaction ran): release what the end
        // of the transaction would release, then wait for the flush.
        LockReleaseAll(USER_LOCKMETHOD, false);
        XLogFlush(XactLastCommitEnd);
      } else if (flush_seen) {
        flush_seen = false;
        XLogFlush(inserted_wal_end());
      }
      return;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      if (release_then_flush) synchronous_commit = saved_synchronous_commit;
      took_lock = release_then_flush = flush_seen = false;
      return;
    default:
      return;
  }
}

LockAcquireResult acquire(std::uint64_t key, bool dont_wait) {
  return pg_call([&] {
    static bool registered = false;
    if (!registered) {
      RegisterXactCallback(on_xact, nullptr);
      registered = true;
    }
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(key >> 32),
                         static_cast<uint32>(key), kWalletLockClass);
    const LockAcquireResult r = LockAcquire(&tag, ExclusiveLock, false, dont_wait);
    if (r != LOCKACQUIRE_NOT_AVAIL) took_lock = true;
    return r;
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
