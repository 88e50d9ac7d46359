// Helpers for reading and writing the ledger's tables through the table and
// index access methods, below SPI (direct_read, direct_write). Everything
// here runs inside pg_try() and holds only plain data.
#pragma once

#include <cstring>

#include "pg/postgres_headers.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_enum.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

namespace baseledger::pg::direct {

// Column numbers of a table, looked up by name when the table is first met
// (and again if it was dropped and created anew: its OID changes).
template <std::size_t N>
struct Columns {
  const char* names[N];
  Oid relid = InvalidOid;
  AttrNumber att[N] = {};

  // With `complete`, every other column of the table must be one that an
  // INSERT naming only these columns leaves NULL (nullable, no default):
  // a row written below SPI then equals the row the INSERT would write.
  void resolve(Relation rel, bool complete = false) {
    if (relid == RelationGetRelid(rel)) return;
    TupleDesc desc = RelationGetDescr(rel);
    for (std::size_t i = 0; i < N; ++i) {
      att[i] = InvalidAttrNumber;
      for (int a = 0; a < desc->natts; ++a) {
        Form_pg_attribute attr = TupleDescAttr(desc, a);
        if (!attr->attisdropped && std::strcmp(NameStr(attr->attname), names[i]) == 0) {
          att[i] = attr->attnum;
          break;
        }
      }
      if (att[i] == InvalidAttrNumber)
        elog(ERROR, "baseledger: column %s of ledger.%s not found", names[i],
             RelationGetRelationName(rel));
    }
    if (complete) {
      for (int a = 0; a < desc->natts; ++a) {
        Form_pg_attribute attr = TupleDescAttr(desc, a);
        if (attr->attisdropped) continue;
        bool named = false;
        for (std::size_t i = 0; i < N; ++i) named = named || att[i] == attr->attnum;
        if (!named && (attr->attnotnull || attr->atthasdef || attr->attgenerated))
          elog(ERROR, "baseledger: column %s of ledger.%s has no value in a direct write",
               NameStr(attr->attname), RelationGetRelationName(rel));
      }
    }
    relid = RelationGetRelid(rel);
  }
};

// Equality on a text column of collation "C" (every id and key column is).
inline void text_key(ScanKeyData* key, AttrNumber column, Datum value) {
  ScanKeyEntryInitialize(key, 0, column, BTEqualStrategyNumber, InvalidOid, C_COLLATION_OID,
                         F_TEXTEQ, value);
}

// A palloc'd copy of an enum value's label.
inline char* enum_label(Datum value) {
  HeapTuple tup = SearchSysCache1(ENUMOID, value);
  if (!HeapTupleIsValid(tup))
    elog(ERROR, "baseledger: enum value %u not found", DatumGetObjectId(value));
  char* label = pstrdup(NameStr(reinterpret_cast<Form_pg_enum>(GETSTRUCT(tup))->enumlabel));
  ReleaseSysCache(tup);
  return label;
}

// The value of an enum column's label (as the cast text::enum finds it).
inline Datum enum_value(Relation rel, AttrNumber column, const char* label) {
  const Oid type = TupleDescAttr(RelationGetDescr(rel), column - 1)->atttypid;
  HeapTuple tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(type), CStringGetDatum(label));
  if (!HeapTupleIsValid(tup))
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
             errmsg("invalid input value for enum %s: \"%s\"", format_type_be(type), label)));
  const Oid value = reinterpret_cast<Form_pg_enum>(GETSTRUCT(tup))->oid;
  ReleaseSysCache(tup);
  return ObjectIdGetDatum(value);
}

// A snapshot taken now, after a command counter increment, as each SPI
// statement of a read-write call takes one: it sees this transaction's
// earlier writes and every transaction committed before it. The caller
// unregisters it.
inline Snapshot fresh_snapshot() {
  CommandCounterIncrement();
  return RegisterSnapshot(GetTransactionSnapshot());
}

// A row of a slot whose columns have all been deformed at once
// (slot_getallattrs), read by attribute number.
struct SlotRow : spi::ColumnReaders<SlotRow> {
  TupleTableSlot* slot;
  explicit SlotRow(TupleTableSlot* s) : slot(s) {}
  Datum get(int col, bool* isnull) const {
    *isnull = slot->tts_isnull[col - 1];
    return slot->tts_values[col - 1];
  }
  Oid type_of(int col) const { return TupleDescAttr(slot->tts_tupleDescriptor, col - 1)->atttypid; }
};

// Scans rel through idx with the keys and calls visit(slot) for each visible
// tuple until it returns false.
template <class Visit>
void index_scan(Relation rel, Relation idx, Snapshot snapshot, ScanKeyData* keys, int nkeys,
                Visit visit) {
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  IndexScanDesc sd = index_beginscan(rel, idx, snapshot, nkeys, 0);
  index_rescan(sd, keys, nkeys, nullptr, 0);
  while (index_getnext_slot(sd, ForwardScanDirection, slot)) {
    CHECK_FOR_INTERRUPTS();
    if (!visit(slot)) break;
  }
  index_endscan(sd);
  ExecDropSingleTupleTableSlot(slot);
}

}  // namespace baseledger::pg::direct
