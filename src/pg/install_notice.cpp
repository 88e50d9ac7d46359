// The NOTICE that CREATE EXTENSION gives when pg_cron is missing. PostgreSQL
// runs an extension's script with client_min_messages raised to WARNING, so a
// NOTICE raised by the script itself never reaches the client: the script
// calls ledger_notice_no_cron(), and the notice is sent when the transaction
// commits, after the script's settings have been restored.
#include "pg/postgres_headers.hpp"

namespace {

bool notice_pending = false;
bool callback_registered = false;

void send_pending_notice(XactEvent event, void*) {
  if (!notice_pending) return;
  if (event == XACT_EVENT_PRE_COMMIT) {
    notice_pending = false;
    ereport(NOTICE,
            (errmsg("pg_cron is not installed in this database: lapsed holds stop counting at "
                    "once, but their expire events are written only by later writes on the same "
                    "wallet or by ledger_expire()"),
             errhint("Install pg_cron and call ledger_schedule_expiry(), or run ledger_expire() "
                     "every minute from another scheduler.")));
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    notice_pending = false;
  }
}

}  // namespace

// ledger_notice_no_cron(): queues the notice for the end of CREATE EXTENSION.
BASELEDGER_SQL_FUNCTION(ledger_notice_no_cron) {
  notice_pending = true;
  if (!callback_registered) {
    RegisterXactCallback(send_pending_notice, nullptr);
    callback_registered = true;
  }
  PG_RETURN_VOID();
}
