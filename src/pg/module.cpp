// Module entry: the magic block and _PG_init.
#include "pg/error_wall.hpp"
#include "pg/postgres_headers.hpp"
#include "pg/settings.hpp"

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

// Defines the settings when the module is loaded.
void _PG_init(void) {
  baseledger::pg::PendingError pending;
  try {
    baseledger::pg::pg_try([] { baseledger::pg::define_settings(); });
    return;
  } catch (...) {
    baseledger::pg::capture_current_exception(&pending);
  }
  baseledger::pg::raise_pending(pending);
}
