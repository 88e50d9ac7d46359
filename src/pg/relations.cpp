// OIDs cached per backend and relations kept open per call (see relations.hpp).
#include "pg/relations.hpp"

#include <cstring>

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"
}

namespace baseledger::pg::relations {

namespace {

// ---------------------------------------------------------------- OIDs

struct Known {
  const char* name;  // a string literal of the caller's
  Oid oid;
};
constexpr int kMaxKnown = 16;
Known known[kMaxKnown];
int n_known = 0;
// Bumped by every invalidation that forgets the OIDs.
uint64 generation = 0;

void forget_oids() {
  n_known = 0;
  ++generation;
}

void on_relcache(Datum, Oid relid) {
  if (relid == InvalidOid) return forget_oids();
  for (int i = 0; i < n_known; ++i)
    if (known[i].oid == relid) return forget_oids();
}

void on_namespace(Datum, int, uint32) {
  forget_oids();
}

void register_callbacks();

Oid oid_of(const char* name) {
  register_callbacks();
  for (int i = 0; i < n_known; ++i)
    if (known[i].name == name || std::strcmp(known[i].name, name) == 0) return known[i].oid;
  const Oid oid = get_relname_relid(name, get_namespace_oid("ledger", false));
  if (!OidIsValid(oid)) elog(ERROR, "baseledger: relation ledger.%s not found", name);
  if (n_known < kMaxKnown) known[n_known++] = Known{name, oid};
  return oid;
}

// ---------------------------------------------------------------- per call

struct Kept {
  Relation rel;
  LOCKMODE mode;
};
constexpr int kMaxKept = 16;
Kept kept[kMaxKept];
int n_kept = 0;
// Open calls (nested when a call's statement calls the ledger again), and
// the subtransaction the outermost one runs in.
int depth = 0;
SubTransactionId call_subxact = InvalidSubTransactionId;

// Row hints, valid for the call that made them (call_number).
struct Hint {
  uint64 call;
  Oid relid;
  uint64 key_hash;
  ItemPointerData tid;
};
constexpr int kHints = 2048;  // a power of two: a batch's wallets
Hint hints[kHints];
uint64 call_number = 0;

Hint& hint_slot(Oid relid, uint64 key_hash) {
  return hints[(key_hash ^ relid) & (kHints - 1)];
}

// After an abort the resource owner has released the relations already.
void forget_call() {
  ++call_number;
  n_kept = 0;
  depth = 0;
  call_subxact = InvalidSubTransactionId;
}

void on_xact(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) forget_call();
}

void on_subxact(SubXactEvent event, SubTransactionId sub, SubTransactionId, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB && sub == call_subxact) forget_call();
}

void register_callbacks() {
  static bool registered = false;
  if (registered) return;
  CacheRegisterRelcacheCallback(on_relcache, 0);
  CacheRegisterSyscacheCallback(NAMESPACEOID, on_namespace, 0);
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
  registered = true;
}

Relation open_fresh(const char* name, LOCKMODE mode, bool index) {
  for (int attempt = 0;; ++attempt) {
    const uint64 seen = generation;
    Relation rel = try_relation_open(oid_of(name), mode);
    // Taking the lock may have processed invalidations: if one of them made
    // the OID stale (the relation dropped or renamed), look it up again.
    if (rel != nullptr && (seen == generation || attempt == 2)) {
      const char kind = rel->rd_rel->relkind;
      if (index ? kind != RELKIND_INDEX : kind != RELKIND_RELATION)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"ledger.%s\" is not %s", name, index ? "an index" : "a table")));
      return rel;
    }
    if (rel != nullptr) relation_close(rel, NoLock);
    if (attempt == 2)
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                      errmsg("relation \"ledger.%s\" does not exist", name)));
    forget_oids();
  }
}

}  // namespace

Oid oid(const char* name) {
  return oid_of(name);
}

namespace {
// The relation if the call keeps it open (locked in at least mode), or nullptr.
Relation kept_relation(Oid relid, LOCKMODE mode) {
  for (int i = 0; i < n_kept; ++i) {
    Kept& k = kept[i];
    if (RelationGetRelid(k.rel) != relid) continue;
    if (mode > k.mode) {
      LockRelationOid(relid, mode);
      k.mode = mode;
    }
    return k.rel;
  }
  return nullptr;
}

// Only the outermost call keeps what it opens: a nested call may run in a
// subtransaction of its own, whose resource owner must not outlive it.
void keep(Relation rel, LOCKMODE mode) {
  if (depth == 1 && GetCurrentSubTransactionId() == call_subxact && n_kept < kMaxKept)
    kept[n_kept++] = Kept{rel, mode};
}
}  // namespace

Relation open(const char* name, LOCKMODE mode, bool index) {
  if (Relation rel = kept_relation(oid_of(name), mode)) return rel;
  Relation rel = open_fresh(name, mode, index);
  keep(rel, mode);
  return rel;
}

Relation open_index(Oid relid, LOCKMODE mode) {
  register_callbacks();
  if (Relation rel = kept_relation(relid, mode)) return rel;
  Relation rel = index_open(relid, mode);
  keep(rel, mode);
  return rel;
}

void close(Relation rel) {
  for (int i = 0; i < n_kept; ++i)
    if (kept[i].rel == rel) return;
  relation_close(rel, NoLock);
}

uint64 key_hash(const char* text, std::size_t len, const unsigned char* uuid) {
  uint64 h =
      hash_bytes_extended(reinterpret_cast<const unsigned char*>(text), static_cast<int>(len), 0);
  return uuid ? hash_bytes_extended(uuid, UUID_LEN, h) : h;
}

void remember_row(Oid relid, uint64 key_hash, ItemPointer tid) {
  if (depth == 0) return;
  hint_slot(relid, key_hash) = Hint{call_number, relid, key_hash, *tid};
}

bool recall_row(Oid relid, uint64 key_hash, ItemPointer tid) {
  const Hint& h = hint_slot(relid, key_hash);
  if (depth == 0 || h.call != call_number || h.relid != relid || h.key_hash != key_hash)
    return false;
  *tid = h.tid;
  return true;
}

int begin_call() {
  register_callbacks();
  const int outer = depth;
  if (depth == 0) {
    ++call_number;
    n_kept = 0;
    call_subxact = GetCurrentSubTransactionId();
  }
  ++depth;
  return outer;
}

void end_call(int outer) {
  depth = outer;
  if (depth != 0) return;
  for (int i = 0; i < n_kept; ++i) relation_close(kept[i].rel, NoLock);
  n_kept = 0;
  call_subxact = InvalidSubTransactionId;
}

}  // namespace baseledger::pg::relations
