// The one place PostgreSQL's headers enter C++: postgres.h first, all inside
// extern "C". Only src/pg includes this file.
#pragma once

// The module is built with -fvisibility=hidden; entry points are exported
// explicitly (PostgreSQL 16 defines the same; 15 leaves it empty on Linux).
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "pgtime.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "mb/pg_wchar.h"
}

// PostgreSQL's macros that clash with the standard library.
#undef Min
#undef Max

// Declares an SQL-callable function with C linkage, exported from the module.
#define BASELEDGER_SQL_FUNCTION(name)       \
  extern "C" {                              \
  PG_FUNCTION_INFO_V1(name);                \
  PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
  }                                         \
  Datum name(PG_FUNCTION_ARGS)
