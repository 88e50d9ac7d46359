// One-row writes through the table access method (see direct_write.hpp).
// Code inside pg_try() lambdas holds only plain data (see error_wall.hpp).
#include "pg/direct_write.hpp"

#include "core/errors.hpp"
#include "pg/direct_access.hpp"
#include "pg/error_wall.hpp"
#include "pg/relations.hpp"

extern "C" {
#include "optimizer/optimizer.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "nodes/pg_list.h"
#include "utils/inval.h"
}

namespace baseledger::pg::direct_write {

namespace {

using direct::Columns;
using direct::text_key;

// What the executor would prepare for each statement, prepared once for the
// backend: the table's CHECK constraints compiled (ExecConstraints would
// parse and plan each constraint's expression again for every row, which
// cost as much as writing the row), and its indexes' IndexInfo with
// partial-index predicates compiled (ExecOpenIndices and the first
// ExecInsertIndexTuples of each statement build them again). A relcache
// invalidation of the table or of one of its indexes (ALTER TABLE, CREATE or
// DROP INDEX, the table dropped) marks them stale.
struct TableCache {
  Oid relid = InvalidOid;
  bool ready = false;
  bool stale = true;
  MemoryContext context = nullptr;
  ExprState** checks = nullptr;
  // The indexes, unless one of them is not a btree (then ExecOpenIndices).
  bool indexes_cached = false;
  int nindexes = 0;
  Oid* index_oids = nullptr;
  IndexInfo** index_infos = nullptr;
};

// A table written below SPI: its columns in the order of the statement's
// parameters, and which of them is an enum given as text (-1: none).
template <std::size_t N>
struct Target {
  const char* table;
  Columns<N> cols;
  int enum_col;
  TableCache cache;
};

Target<8> wallet_update = {"wallets",
                           {{"wallet_id", "balance", "reserved", "active_reservations", "last_seq",
                             "last_at", "last_hash", "next_expiry"}},
                           -1,
                           {}};
Target<14> event_insert = {
    "events",
    {{"wallet_id", "seq", "kind", "amount", "reservation_id", "idempotency_key", "fingerprint",
      "balance", "reserved", "expires_at", "at", "metadata", "hash", "origin_wallet_id"}},
    2,
    {}};
Target<9> reservation_insert = {"reservations",
                                {{"wallet_id", "reservation_id", "amount", "captured", "state",
                                  "expires_at", "created_at", "updated_at", "capture_on_expire"}},
                                4,
                                {}};
Target<6> reservation_update = {
    "reservations",
    {{"wallet_id", "reservation_id", "captured", "state", "expires_at", "updated_at"}},
    3,
    {}};

TableCache* all_caches[] = {&wallet_update.cache, &event_insert.cache, &reservation_insert.cache,
                            &reservation_update.cache};

void invalidate_caches(Datum, Oid relid) {
  for (TableCache* c : all_caches) {
    bool hit = relid == InvalidOid || relid == c->relid;
    for (int i = 0; !hit && i < c->nindexes; ++i) hit = relid == c->index_oids[i];
    if (hit) c->stale = true;
  }
}

// Fills the cache for rel, in its memory context.
void build_cache(TableCache& c, Relation rel) {
  const TupleConstr* constr = RelationGetDescr(rel)->constr;
  const int nchecks = constr ? constr->num_check : 0;
  // In the order of the table's descriptor, as ExecConstraints expects them.
  c.checks = static_cast<ExprState**>(palloc0(sizeof(ExprState*) * (nchecks + 1)));
  for (int i = 0; i < nchecks; ++i)
    c.checks[i] = ExecInitExpr(
        expression_planner(static_cast<Expr*>(stringToNode(constr->check[i].ccbin))), nullptr);

  List* oids = RelationGetIndexList(rel);
  const int n = list_length(oids);
  c.index_oids = static_cast<Oid*>(palloc0(sizeof(Oid) * (n + 1)));
  c.index_infos = static_cast<IndexInfo**>(palloc0(sizeof(IndexInfo*) * (n + 1)));
  c.indexes_cached = true;
  int i = 0;
  ListCell* lc;
  foreach (lc, oids) {
    const Oid oid = lfirst_oid(lc);
    c.index_oids[i] = oid;
    Relation idx = index_open(oid, RowExclusiveLock);
    if (idx->rd_rel->relam != BTREE_AM_OID) c.indexes_cached = false;
    IndexInfo* info = BuildIndexInfo(idx);
    if (info->ii_Predicate != NIL)
      info->ii_PredicateState = ExecInitQual(
          reinterpret_cast<List*>(expression_planner(reinterpret_cast<Expr*>(info->ii_Predicate))),
          nullptr);
    if (info->ii_Expressions != NIL) {
      List* states = NIL;
      ListCell* e;
      foreach (e, info->ii_Expressions)
        states = lappend(states,
                         ExecInitExpr(expression_planner(static_cast<Expr*>(lfirst(e))), nullptr));
      info->ii_ExpressionsState = states;
    }
    c.index_infos[i++] = info;
    c.nindexes = i;
    index_close(idx, NoLock);
  }
}

TableCache& table_cache(TableCache& c, Relation rel) {
  static bool registered = false;
  if (!registered) {
    CacheRegisterRelcacheCallback(invalidate_caches, 0);
    registered = true;
  }
  if (c.ready && !c.stale && c.relid == RelationGetRelid(rel)) return c;
  if (c.context == nullptr)
    c.context =
        AllocSetContextCreate(CacheMemoryContext, "baseledger table cache", ALLOCSET_SMALL_SIZES);
  c.ready = false;  // until built: an error while building leaves it to the next call
  c.nindexes = 0;
  c.relid = RelationGetRelid(rel);
  MemoryContextReset(c.context);
  // An invalidation that arrives while the cache is built (opening an index
  // processes them) marks it stale again: this call uses it, the next rebuilds.
  c.stale = false;
  MemoryContext old = MemoryContextSwitchTo(c.context);
  build_cache(c, rel);
  MemoryContextSwitchTo(old);
  c.ready = true;
  return c;
}

// Whether the SQL statement would do more than write the row: fire
// triggers (enabled or not: the statement decides), apply rules, or apply
// row security to the table's owner.
bool needs_statement(Relation rel, CmdType op) {
  if (rel->rd_rel->relforcerowsecurity || rel->rd_rules != nullptr) return true;
  const TriggerDesc* t = rel->trigdesc;
  if (t == nullptr) return false;
  if (op == CMD_INSERT)
    return t->trig_insert_before_row || t->trig_insert_after_row || t->trig_insert_instead_row ||
           t->trig_insert_before_statement || t->trig_insert_after_statement ||
           t->trig_insert_new_table;
  return t->trig_update_before_row || t->trig_update_after_row || t->trig_update_instead_row ||
         t->trig_update_before_statement || t->trig_update_after_statement ||
         t->trig_update_old_table || t->trig_update_new_table;
}

// The executor state that the index and constraint routines need.
struct Writer {
  EState* estate;
  ResultRelInfo* rri;
  TableCache& cache;
  bool own_indexes;  // opened by ExecOpenIndices, closed by close()

  Writer(TableCache& c, Relation rel) : cache(table_cache(c, rel)) {
    estate = CreateExecutorState();
    rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, rel, 0, nullptr, 0);
    own_indexes = !cache.indexes_cached;
    if (own_indexes) {
      ExecOpenIndices(rri, false);
      return;
    }
    rri->ri_NumIndices = cache.nindexes;
    rri->ri_IndexRelationDescs =
        static_cast<Relation*>(palloc(sizeof(Relation) * (cache.nindexes + 1)));
    for (int i = 0; i < cache.nindexes; ++i)
      rri->ri_IndexRelationDescs[i] = relations::open_index(cache.index_oids[i], RowExclusiveLock);
    rri->ri_IndexRelationInfo = cache.index_infos;
  }
  // Checks the table's constraints (NOT NULL and CHECK).
  void check(TupleTableSlot* slot) {
    Relation rel = rri->ri_RelationDesc;
    const TupleConstr* constr = RelationGetDescr(rel)->constr;
    if (constr == nullptr) return;
    if (constr->num_check > 0) rri->ri_ConstraintExprs = cache.checks;
    ExecConstraints(rri, slot, estate);
  }
  // Adds the row's index entries (unique ones checked: 23505 on a duplicate key).
  void index(TupleTableSlot* slot) {
#if PG_VERSION_NUM >= 160000
    ExecInsertIndexTuples(rri, slot, estate, false, false, nullptr, NIL, false);
#else
    ExecInsertIndexTuples(rri, slot, estate, false, false, nullptr, NIL);
#endif
  }
  void close() {
    if (own_indexes) {
      ExecCloseIndices(rri);
    } else {
      for (int i = 0; i < rri->ri_NumIndices; ++i) relations::close(rri->ri_IndexRelationDescs[i]);
    }
    FreeExecutorState(estate);
  }
};

// Puts the values into the slot's columns; an enum given as text becomes
// its label's value.
template <std::size_t N>
void fill(Target<N>& t, Relation rel, TupleTableSlot* slot, const Datum* values,
          const bool* nulls) {
  for (std::size_t i = 0; i < N; ++i) {
    const int a = t.cols.att[i] - 1;
    slot->tts_isnull[a] = nulls[i];
    slot->tts_values[a] = values[i];
    if (static_cast<int>(i) == t.enum_col && !nulls[i])
      slot->tts_values[a] = direct::enum_value(rel, t.cols.att[i], TextDatumGetCString(values[i]));
  }
}

// Inserts `rows` rows whose values follow one another (N per row).
template <std::size_t N>
int64 insert_rows(Target<N>& t, int rows, const Datum* values, const bool* nulls) {
  int64 written = -1;
  pg_try([&] {
    Relation rel = relations::open(t.table, RowExclusiveLock, false);
    if (needs_statement(rel, CMD_INSERT)) {
      relations::close(rel);
      return;
    }
    t.cols.resolve(rel, true);
    Writer w(t.cache, rel);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
    const CommandId cid = GetCurrentCommandId(true);
    for (int row = 0; row < rows; ++row) {
      CHECK_FOR_INTERRUPTS();  // a batch's rows honour a cancel or statement_timeout
      ExecClearTuple(slot);
      for (int a = 0; a < slot->tts_tupleDescriptor->natts; ++a) slot->tts_isnull[a] = true;
      fill(t, rel, slot, values + row * N, nulls + row * N);
      ExecStoreVirtualTuple(slot);
      w.check(slot);
      table_tuple_insert(rel, slot, cid, 0, nullptr);
      w.index(slot);
      ResetPerTupleExprContext(w.estate);
    }
    ExecDropSingleTupleTableSlot(slot);
    w.close();
    relations::close(rel);
    written = rows;
  });
  return written;
}

// Whether the row in slot has the key: the text id in column att[0] and,
// when uuid is given, the uuid in column att[1].
bool has_key(TupleTableSlot* slot, const AttrNumber* att, const text* id,
             const unsigned char* uuid) {
  bool isnull;
  Datum d = slot_getattr(slot, att[0], &isnull);
  if (isnull) return false;
  const text* stored = DatumGetTextPP(d);
  if (VARSIZE_ANY_EXHDR(stored) != VARSIZE_ANY_EXHDR(id) ||
      std::memcmp(VARDATA_ANY(stored), VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id)) != 0)
    return false;
  if (uuid == nullptr) return true;
  d = slot_getattr(slot, att[1], &isnull);
  return !isnull && std::memcmp(DatumGetUUIDP(d)->data, uuid, UUID_LEN) == 0;
}

// Updates, for each of `rows` rows of values (N per row), the row found by
// its first nkeys values (text, then text or uuid) at the TID where the call
// read it, or else through the index; returns
// the number of rows found. A row updated by another transaction since it was
// read is read again and the values applied to its newest version, as an
// UPDATE does in READ COMMITTED.
template <std::size_t N>
int64 update_rows(Target<N>& t, const char* index, int nkeys, int rows, const Datum* all_values,
                  const bool* all_nulls) {
  int64 written = -1;
  pg_try([&] {
    Relation rel = relations::open(t.table, RowExclusiveLock, false);
    if (needs_statement(rel, CMD_UPDATE)) {
      relations::close(rel);
      return;
    }
    Relation idx = relations::open(index, RowExclusiveLock, true);
    t.cols.resolve(rel);
    Writer w(t.cache, rel);
    TupleTableSlot* fresh = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
    TupleTableSlot* hinted = table_slot_create(rel, nullptr);
    written = 0;
    for (int row = 0; row < rows; ++row) {
      CHECK_FOR_INTERRUPTS();
      const Datum* values = all_values + row * N;
      const bool* nulls = all_nulls + row * N;
      ScanKeyData keys[2];
      text_key(&keys[0], 1, values[0]);
      if (nkeys == 2)
        ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid, InvalidOid,
                               F_UUID_EQ, values[1]);
      const text* id = DatumGetTextPP(values[0]);
      const unsigned char* uuid = nkeys == 2 ? DatumGetUUIDP(values[1])->data : nullptr;
      const uint64 hash = relations::key_hash(VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id), uuid);
      for (int attempt = 0;; ++attempt) {
        Snapshot snapshot = direct::fresh_snapshot();
        bool found = false;
        ItemPointerData tid;
        // The row's values, then the call's, for the new version.
        auto take = [&](TupleTableSlot* old) {
          found = true;
          tid = old->tts_tid;
          ExecClearTuple(fresh);
          slot_getallattrs(old);
          const int natts = fresh->tts_tupleDescriptor->natts;
          std::memcpy(fresh->tts_values, old->tts_values, natts * sizeof(Datum));
          std::memcpy(fresh->tts_isnull, old->tts_isnull, natts * sizeof(bool));
          fill(t, rel, fresh, values, nulls);
          ExecStoreVirtualTuple(fresh);
          ExecMaterializeSlot(fresh);  // copies the old row's values out of its buffer
          return false;
        };
        ItemPointerData hint;
        if (attempt == 0 && relations::recall_row(RelationGetRelid(rel), hash, &hint) &&
            table_tuple_fetch_row_version(rel, &hint, snapshot, hinted) &&
            has_key(hinted, t.cols.att, id, uuid)) {
          take(hinted);
          ExecClearTuple(hinted);
        } else {
          direct::index_scan(rel, idx, snapshot, keys, nkeys, take);
        }
        if (!found) {
          UnregisterSnapshot(snapshot);
          break;
        }
        w.check(fresh);
        TM_FailureData failure;
        LockTupleMode mode;
#if PG_VERSION_NUM >= 160000
        TU_UpdateIndexes update_indexes;
#else
        bool update_indexes;
#endif
        const TM_Result r =
            table_tuple_update(rel, &tid, fresh, GetCurrentCommandId(true), snapshot,
                               InvalidSnapshot, true, &failure, &mode, &update_indexes);
        UnregisterSnapshot(snapshot);
        if (r == TM_Ok) {
#if PG_VERSION_NUM >= 160000
          if (update_indexes != TU_None) w.index(fresh);
#else
          if (update_indexes) w.index(fresh);
#endif
          ++written;
          break;
        }
        if ((r != TM_Updated && r != TM_Deleted) || attempt == 100)
          ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                          errmsg("could not serialize access due to concurrent update")));
      }
      ResetPerTupleExprContext(w.estate);
    }
    ExecDropSingleTupleTableSlot(hinted);
    ExecDropSingleTupleTableSlot(fresh);
    w.close();
    relations::close(idx);
    relations::close(rel);
  });
  return written;
}

}  // namespace

bool applies() {
  // A read-only transaction (or a standby) takes the statements, which refuse
  // the write with 25006 as any SQL write is refused.
  return !IsolationUsesXactSnapshot() && !XactReadOnly;
}

int64 update_wallets(int rows, const Datum* values, const bool* nulls) {
  return update_rows(wallet_update, "wallets_pkey", 1, rows, values, nulls);
}

int64 insert_events(int rows, const Datum* values, const bool* nulls) {
  return insert_rows(event_insert, rows, values, nulls);
}

int64 insert_reservations(int rows, const Datum* values, const bool* nulls) {
  return insert_rows(reservation_insert, rows, values, nulls);
}

int64 update_reservations(int rows, const Datum* values, const bool* nulls) {
  return update_rows(reservation_update, "reservations_pkey", 2, rows, values, nulls);
}

}  // namespace baseledger::pg::direct_write
