// Encoding of C++ results into the SQL composite types the functions return.
#pragma once

#include <string>

#include "core/types.hpp"
#include "core/views.hpp"
#include "pg/postgres_headers.hpp"

namespace baseledger::pg::results {

// ledger_result: the event a write appended, or the one a retry replays.
Datum ledger_result(FunctionCallInfo fcinfo, const std::string& wallet_id, const core::Event& e,
                    bool replayed);

// wallet_balance as of `as_of`.
Datum wallet_balance(FunctionCallInfo fcinfo, const std::string& wallet_id, const std::string& unit,
                     const core::BalanceView& view, std::int64_t last_seq, core::Micros as_of);

// reservation_status as a reader sees it at `now`.
Datum reservation_status(FunctionCallInfo fcinfo, const std::string& wallet_id,
                         const core::Reservation& r, core::Micros now);

}  // namespace baseledger::pg::results
