// The baseledger.* settings and the ledger's clock.
#pragma once

#include "core/types.hpp"

namespace baseledger::pg {

// baseledger.max_ttl, in microseconds: the longest time to live of a hold.
core::Micros max_ttl();

// baseledger.max_active_reservations: the most active holds a wallet may have.
std::int64_t max_active_reservations();

// The ledger's clock: the server's clock plus baseledger.clock_offset (a
// superuser-only setting that exists so tests can step time either way).
core::Micros clock_now();

// baseledger.timezone: the time zone that aligns period limits to the calendar.
const char* ledger_timezone();

// baseledger.early_lock_release: whether wallet locks are released before
// the commit's WAL flush (see locks.cpp).
bool early_lock_release();

void define_settings();

}  // namespace baseledger::pg
