// One-row writes through the table access method (see direct_write.hpp).
// Code inside pg_try() lambdas holds only plain data (see error_wall.hpp).
#include "pg/direct_write.hpp"

#include "core/errors.hpp"
#include "pg/direct_access.hpp"
#include "pg/error_wall.hpp"

extern "C" {
#include "optimizer/optimizer.h"
#include "utils/inval.h"
}

namespace baseledger::pg::direct_write {

namespace {

using direct::Columns;
using direct::relation_oid;
using direct::text_key;

// A table's CHECK constraints compiled once for the backend. ExecConstraints
// would parse and plan every constraint's expression again for each row it
// checks, which cost as much as writing the row; a relcache invalidation of
// the table (ALTER TABLE, or the table dropped) marks them stale.
struct CompiledChecks {
  Oid relid = InvalidOid;
  bool stale = true;
  MemoryContext context = nullptr;
  ExprState** exprs = nullptr;
};

// A table written below SPI: its columns in the order of the statement's
// parameters, and which of them is an enum given as text (-1: none).
template <std::size_t N>
struct Target {
  const char* table;
  Columns<N> cols;
  int enum_col;
  CompiledChecks checks;
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

CompiledChecks* all_checks[] = {&wallet_update.checks, &event_insert.checks,
                                &reservation_insert.checks, &reservation_update.checks};

void invalidate_checks(Datum, Oid relid) {
  for (CompiledChecks* c : all_checks)
    if (relid == InvalidOid || relid == c->relid) c->stale = true;
}

// The table's compiled CHECK constraints, in the order of its descriptor's
// (as ExecConstraints expects them in ri_ConstraintExprs).
ExprState** compiled_checks(CompiledChecks& c, Relation rel) {
  static bool registered = false;
  if (!registered) {
    CacheRegisterRelcacheCallback(invalidate_checks, 0);
    registered = true;
  }
  if (!c.stale && c.relid == RelationGetRelid(rel)) return c.exprs;
  if (c.context == nullptr)
    c.context =
        AllocSetContextCreate(CacheMemoryContext, "baseledger checks", ALLOCSET_SMALL_SIZES);
  MemoryContextReset(c.context);
  c.exprs = nullptr;
  const TupleConstr* constr = RelationGetDescr(rel)->constr;
  MemoryContext old = MemoryContextSwitchTo(c.context);
  ExprState** exprs = static_cast<ExprState**>(palloc(sizeof(ExprState*) * constr->num_check));
  for (int i = 0; i < constr->num_check; ++i)
    exprs[i] = ExecInitExpr(
        expression_planner(static_cast<Expr*>(stringToNode(constr->check[i].ccbin))), nullptr);
  MemoryContextSwitchTo(old);
  c.exprs = exprs;
  c.relid = RelationGetRelid(rel);
  c.stale = false;
  return c.exprs;
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

// The executor state that the index and constraint routines need, for one row.
struct Writer {
  EState* estate;
  ResultRelInfo* rri;

  explicit Writer(Relation rel) {
    estate = CreateExecutorState();
    rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, rel, 0, nullptr, 0);
    ExecOpenIndices(rri, false);
  }
  // Checks the table's constraints (NOT NULL and CHECK).
  void check(CompiledChecks& checks, TupleTableSlot* slot) {
    Relation rel = rri->ri_RelationDesc;
    const TupleConstr* constr = RelationGetDescr(rel)->constr;
    if (constr == nullptr) return;
    if (constr->num_check > 0) rri->ri_ConstraintExprs = compiled_checks(checks, rel);
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
    ExecCloseIndices(rri);
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
    Relation rel = table_open(relation_oid(t.table), RowExclusiveLock);
    if (needs_statement(rel, CMD_INSERT)) {
      table_close(rel, NoLock);
      return;
    }
    t.cols.resolve(rel, true);
    Writer w(rel);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
    const CommandId cid = GetCurrentCommandId(true);
    for (int row = 0; row < rows; ++row) {
      CHECK_FOR_INTERRUPTS();  // a batch's rows honour a cancel or statement_timeout
      ExecClearTuple(slot);
      for (int a = 0; a < slot->tts_tupleDescriptor->natts; ++a) slot->tts_isnull[a] = true;
      fill(t, rel, slot, values + row * N, nulls + row * N);
      ExecStoreVirtualTuple(slot);
      w.check(t.checks, slot);
      table_tuple_insert(rel, slot, cid, 0, nullptr);
      w.index(slot);
      ResetPerTupleExprContext(w.estate);
    }
    ExecDropSingleTupleTableSlot(slot);
    w.close();
    table_close(rel, NoLock);
    written = rows;
  });
  return written;
}

// Updates, for each of `rows` rows of values (N per row), the row found by
// its first nkeys values (text, then text or uuid) through the index; returns
// the number of rows found. A row updated by another transaction since it was
// read is read again and the values applied to its newest version, as an
// UPDATE does in READ COMMITTED.
template <std::size_t N>
int64 update_rows(Target<N>& t, const char* index, int nkeys, int rows, const Datum* all_values,
                  const bool* all_nulls) {
  int64 written = -1;
  pg_try([&] {
    Relation rel = table_open(relation_oid(t.table), RowExclusiveLock);
    if (needs_statement(rel, CMD_UPDATE)) {
      table_close(rel, NoLock);
      return;
    }
    Relation idx = index_open(relation_oid(index), RowExclusiveLock);
    t.cols.resolve(rel);
    Writer w(rel);
    TupleTableSlot* fresh = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
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
      for (int attempt = 0;; ++attempt) {
        Snapshot snapshot = direct::fresh_snapshot();
        bool found = false;
        ItemPointerData tid;
        direct::index_scan(rel, idx, snapshot, keys, nkeys, [&](TupleTableSlot* old) {
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
        });
        if (!found) {
          UnregisterSnapshot(snapshot);
          break;
        }
        w.check(t.checks, fresh);
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
    ExecDropSingleTupleTableSlot(fresh);
    w.close();
    index_close(idx, NoLock);
    table_close(rel, NoLock);
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
