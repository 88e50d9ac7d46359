// Thin helpers over SPI: statements prepared once per backend, and column
// readers over SPI_tuptable. Readers run inside pg_call()/pg_try().
#pragma once

#include <cstring>

#include "core/types.hpp"
#include "pg/error_wall.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::spi {

using core::Micros;

// A statement prepared on first use and kept for the life of the backend.
struct Query {
  const char* sql;
  int nargs;
  Oid types[40];
  SPIPlanPtr plan;
  // Single-row statements are planned once (a generic plan): left to itself
  // the plan cache may keep re-planning them on every call. Statements over
  // arrays use CURSOR_OPT_CUSTOM_PLAN instead: their cost is amortized over
  // many rows, and a generic join plan made while a table was small would
  // keep scanning it whole once it has grown.
  int cursor_options = CURSOR_OPT_GENERIC_PLAN;
};

// Must run inside pg_call: prepares the plan on first use.
inline SPIPlanPtr plan_of(Query& q) {
  if (q.plan == nullptr) {
    SPIPlanPtr plan = SPI_prepare_cursor(q.sql, q.nargs, q.types, q.cursor_options);
    if (plan == nullptr)
      elog(ERROR, "baseledger: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    q.plan = plan;
  }
  return q.plan;
}

// Runs a prepared query; returns the number of rows.
inline uint64 run(Query& q, Datum* values, const char* nulls, bool read_only, long limit = 0) {
  return pg_call([&] {
    int rc = SPI_execute_plan(plan_of(q), values, nulls, read_only, limit);
    if (rc < 0) elog(ERROR, "baseledger: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
    return SPI_processed;
  });
}

// Typed column readers over any row that can get(col, &isnull) a column by
// its number (SPI results here, table slots in direct_access.hpp). They run
// inside pg_try.
template <class Source>
struct ColumnReaders {
  int64 int64_at(int col) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    if (isnull) return 0;
    return self().type_of(col) == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);
  }
  bool bool_at(int col) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    return !isnull && DatumGetBool(d);
  }
  bool timestamp_at(int col, Micros* out) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    if (!isnull) *out = DatumGetTimestampTz(d);
    return !isnull;
  }
  void uuid_at(int col, core::Uuid* out, bool* present) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    *present = !isnull;
    if (!isnull) std::memcpy(out->bytes.data(), DatumGetUUIDP(d)->data, UUID_LEN);
  }
  // Copies a bytea column of exactly n bytes into out; false when NULL or of another size.
  bool bytes_at(int col, void* out, std::size_t n) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    if (isnull) return false;
    bytea* b = DatumGetByteaPP(d);
    if (VARSIZE_ANY_EXHDR(b) != n) return false;
    std::memcpy(out, VARDATA_ANY(b), n);
    return true;
  }
  // A palloc'd C string, or null.
  char* cstring_at(int col) const {
    bool isnull;
    Datum d = self().get(col, &isnull);
    return isnull ? nullptr : TextDatumGetCString(d);
  }

 private:
  const Source& self() const { return static_cast<const Source&>(*this); }
};

// A row of SPI_tuptable.
struct Row : ColumnReaders<Row> {
  HeapTuple tuple;
  TupleDesc desc;
  Row(HeapTuple t, TupleDesc d) : tuple(t), desc(d) {}
  Datum get(int col, bool* isnull) const { return SPI_getbinval(tuple, desc, col, isnull); }
  Oid type_of(int col) const { return TupleDescAttr(desc, col - 1)->atttypid; }
};

inline Row row(uint64 i) {
  return Row{SPI_tuptable->vals[i], SPI_tuptable->tupdesc};
}

}  // namespace baseledger::pg::spi
