// Who may do what. The SQL functions run as their caller: EXECUTE grants to
// the baseledger_* roles decide which functions a role may call, and the
// checks here decide on which wallets. The tables are then reached with the
// extension owner's rights (see storage::connect).
#pragma once

#include <string>

#include "pg/postgres_headers.hpp"

namespace baseledger::pg::access {

enum class Need {
  read,   // balance, reservation, history, head: a 'read' or 'spend' grant
  spend,  // debit, reserve, settle, cancel, extend: a 'spend' grant
  admin,  // create, credit, grants, sweep: baseledger_admin
  audit,  // verify: baseledger_auditor or baseledger_admin
};

// The role that called the SQL function, taken before any switch of user.
Oid caller();

// Raises 42501 unless the caller may act on the wallet. Must run after
// storage::connect(). Says nothing about whether the wallet exists.
void require(const std::string& wallet_id, Need need);
// The same, returning false instead of raising (for batch elements).
bool allowed(const std::string& wallet_id, Need need);
// For calls that concern no single wallet (sweep, verify of all wallets).
void require_role(Need need);

[[noreturn]] void refuse(const std::string& wallet_id);

}  // namespace baseledger::pg::access
