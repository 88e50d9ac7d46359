// Wallet-level access control over ledger.grants.
#include "pg/access.hpp"

#include <vector>

#include "core/errors.hpp"
#include "pg/array_column.hpp"
#include "pg/error_wall.hpp"
#include "pg/spi.hpp"
#include "pg/storage.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace baseledger::pg::access {

namespace {

// Grants on the wallet or on any wallet above it.
spi::Query q_grants = {
    "SELECT role_id, privilege = 'spend' FROM ledger.grants WHERE wallet_id = ANY ($1)",
    1,
    {TEXTARRAYOID},
    nullptr};

// True when the caller is a member of (or has the privileges of) the named role.
bool has_role(const char* role) {
  return pg_call([&] {
    Oid id = get_role_oid(role, true);
    return OidIsValid(id) && has_privs_of_role(caller(), id);
  });
}

// The wallet and each of its ancestors: a/b/c -> a, a/b, a/b/c.
std::vector<std::string> self_and_ancestors(const std::string& wallet_id) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < wallet_id.size(); ++i)
    if (wallet_id[i] == '/') out.push_back(wallet_id.substr(0, i));
  out.push_back(wallet_id);
  return out;
}

bool has_grant(const std::string& wallet_id, bool need_spend) {
  const std::vector<std::string> ids = self_and_ancestors(wallet_id);
  ArrayColumn column(TEXTOID, ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) column.set(i, storage::text_datum(ids[i]));
  Datum args[1] = {column.build()};
  const uint64 n = spi::run(q_grants, args, nullptr, false);
  return pg_call([&] {
    for (uint64 i = 0; i < n; ++i) {
      spi::Row r = spi::row(i);
      bool isnull;
      const Oid role = DatumGetObjectId(r.get(1, &isnull));
      const bool spend = DatumGetBool(r.get(2, &isnull));
      if ((spend || !need_spend) && has_privs_of_role(caller(), role)) return true;
    }
    return false;
  });
}

}  // namespace

Oid caller() {
  return storage::current_caller();
}

void refuse(const std::string& wallet_id) {
  throw core::LedgerError(core::sqlstate::insufficient_privilege,
                          "permission denied for wallet \"" + wallet_id + "\"", {},
                          "Ask an administrator for a grant with ledger_grant.");
}

bool allowed(const std::string& wallet_id, Need need) {
  if (has_role("baseledger_admin")) return true;
  switch (need) {
    case Need::admin:
      return false;
    case Need::audit:
      return has_role("baseledger_auditor");
    case Need::read:
      return has_role("baseledger_auditor") || has_grant(wallet_id, false);
    case Need::spend:
      return has_grant(wallet_id, true);
  }
  return false;
}

void require(const std::string& wallet_id, Need need) {
  if (allowed(wallet_id, need)) return;
  if (need == Need::admin)
    throw core::LedgerError(core::sqlstate::insufficient_privilege,
                            "permission denied for wallet \"" + wallet_id + "\"",
                            "This call is for members of baseledger_admin.");
  refuse(wallet_id);
}

void require_role(Need need) {
  if (has_role("baseledger_admin")) return;
  if (need == Need::audit && has_role("baseledger_auditor")) return;
  throw core::LedgerError(core::sqlstate::insufficient_privilege, "permission denied",
                          need == Need::audit
                              ? "Verification is for members of baseledger_auditor or "
                                "baseledger_admin."
                              : "This call is for members of baseledger_admin.");
}

}  // namespace baseledger::pg::access
