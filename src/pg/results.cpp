// Building composite result tuples.
#include "pg/results.hpp"

#include "pg/error_wall.hpp"
#include "pg/storage.hpp"

namespace baseledger::pg::results {

namespace {

// Forms the function's composite result from values and nulls.
Datum form(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  return pg_call([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "baseledger: function must return a composite type");
    desc = BlessTupleDesc(desc);
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}

}  // namespace

Datum ledger_result(FunctionCallInfo fcinfo, const std::string& wallet_id, const core::Event& e,
                    bool replayed) {
  Datum values[11] = {storage::text_datum(wallet_id),
                      Int64GetDatum(e.seq),
                      storage::text_datum(core::to_string(e.kind)),
                      e.reservation_id ? storage::uuid_datum(*e.reservation_id) : 0,
                      Int64GetDatum(e.amount),
                      Int64GetDatum(e.balance),
                      Int64GetDatum(e.reserved),
                      Int64GetDatum(e.balance - e.reserved),
                      TimestampTzGetDatum(e.expires_at.value_or(0)),
                      TimestampTzGetDatum(e.at),
                      BoolGetDatum(replayed)};
  bool nulls[11] = {false,         false, false, !e.reservation_id, false, false, false, false,
                    !e.expires_at, false, false};
  return form(fcinfo, values, nulls);
}

Datum wallet_balance(FunctionCallInfo fcinfo, const std::string& wallet_id, const std::string& unit,
                     const core::BalanceView& view, std::int64_t last_seq, core::Micros as_of) {
  Datum values[8] = {
      storage::text_datum(wallet_id), storage::text_datum(unit),
      Int64GetDatum(view.balance),    Int64GetDatum(view.reserved),
      Int64GetDatum(view.available),  Int32GetDatum(static_cast<int32>(view.active_reservations)),
      Int64GetDatum(last_seq),        TimestampTzGetDatum(as_of)};
  bool nulls[8] = {};
  return form(fcinfo, values, nulls);
}

Datum reservation_status(FunctionCallInfo fcinfo, const std::string& wallet_id,
                         const core::Reservation& r, core::Micros now) {
  const core::ReservationState state = core::effective_state(r, now);
  // A lapsed hold with on_expire => 'capture' is charged, sweep or not.
  const core::Amount captured =
      state == core::ReservationState::expired && r.capture_on_expire ? r.amount : r.captured;
  Datum values[9] = {storage::uuid_datum(r.id),
                     storage::text_datum(wallet_id),
                     storage::text_datum(core::to_string(state)),
                     Int64GetDatum(r.amount),
                     Int64GetDatum(captured),
                     TimestampTzGetDatum(r.expires_at),
                     TimestampTzGetDatum(r.created_at),
                     TimestampTzGetDatum(r.updated_at),
                     storage::text_datum(r.capture_on_expire ? "capture" : "refund")};
  bool nulls[9] = {};
  // (Under 0.2.0's SQL the type has no on_expire: the tuple takes the first 8.)
  return form(fcinfo, values, nulls);
}

}  // namespace baseledger::pg::results
