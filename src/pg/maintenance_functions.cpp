// SQL entry points for upkeep: the expiry sweep, verification by replay, and
// the trigger that keeps the event log append-only.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "core/decide.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"
#include "core/replay.hpp"
#include "core/validate.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/batch_storage.hpp"
#include "pg/error_wall.hpp"
#include "pg/locks.hpp"
#include "pg/settings.hpp"
#include "pg/policy_storage.hpp"
#include "pg/storage.hpp"
#include "pg/tree_write.hpp"

namespace baseledger::pg {
namespace {

// Adds one (wallet_id, problem) row to ledger_verify's result.
void put_problem(FunctionCallInfo fcinfo, const std::string& wallet_id, const std::string& what) {
  Datum values[2] = {storage::text_datum(wallet_id), storage::text_datum(what)};
  pg_try([&] {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    bool nulls[2] = {false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  });
}

// Replays one wallet; returns false when nothing at all is stored under the id.
bool verify_wallet(FunctionCallInfo fcinfo, const std::string& wallet_id) {
  std::optional<core::WalletState> stored = storage::load_wallet_snapshot(wallet_id);
  std::vector<core::Reservation> reservations = storage::load_wallet_reservations(wallet_id);
  core::Replay replay(storage::load_wallet_policy(wallet_id));
  std::size_t events = 0;
  storage::for_each_event(wallet_id, [&](const storage::StoredEvent& e) {
    replay.apply(e.event);
    replay.check_chain(wallet_id, e.event, e.request(), e.stored_hash());
    ++events;
  });
  if (!stored && events == 0 && reservations.empty()) return false;
  if (!stored) {
    put_problem(fcinfo, wallet_id, "events or reservations exist but the wallet row is missing");
    replay.finish(replay.state(), reservations);
  } else {
    replay.finish(*stored, reservations);
  }
  for (const std::string& p : replay.problems()) put_problem(fcinfo, wallet_id, p);
  if (stored && storage::next_expiry_too_late(wallet_id))
    put_problem(fcinfo, wallet_id,
                "next_expiry is later than an open hold of the wallet's tree expires: a write "
                "could leave that hold counted after it lapses");
  return true;
}

// Roots whose lapsed holds one statement per table expires together.
constexpr std::size_t bulk_sweep_wallets = 1000;

// Expires the lapsed holds of locked roots that stand alone (no children,
// limits or alerts), up to max_rows, with one read of the wallets, one of
// their holds and one write for all; adds the count to *expired. Returns the
// other roots, which take the tree path.
std::vector<std::string> sweep_in_bulk(const std::vector<std::string>& roots, std::int64_t max_rows,
                                       std::int64_t* expired) {
  std::vector<std::string> trees;
  if (roots.empty() || max_rows <= 0) return trees;
  batch_storage::Wallets wallets;
  batch_storage::load_wallets(roots, &wallets);
  for (auto it = wallets.begin(); it != wallets.end();) {
    if (it->second.stands_alone) {
      ++it;
    } else {
      trees.push_back(it->first);
      it = wallets.erase(it);
    }
  }
  if (wallets.empty()) return trees;
  const core::Micros clock = clock_now();
  core::Micros due_until = clock;
  for (const auto& [id, w] : wallets)
    due_until = std::max(due_until, core::next_event_time(w.state, clock));
  // The sweep found these wallets by their lapsed holds: it reads them
  // whatever the cached next expiry says.
  batch_storage::load_due(due_until, &wallets, false);

  std::int64_t left = max_rows;
  for (auto& [id, w] : wallets) {
    if (left <= 0 || w.due.empty()) continue;
    core::WriteInput input;
    input.wallet = w.state;
    input.policy = w.policy;
    input.clock = clock;
    input.due = w.due;
    std::sort(input.due.begin(), input.due.end(),
              [](const core::Reservation& a, const core::Reservation& b) {
                return a.expires_at != b.expires_at ? a.expires_at < b.expires_at : a.id < b.id;
              });
    if (static_cast<std::int64_t>(input.due.size()) > left) input.due.resize(left);
    const core::Decision d = core::decide(input, nullptr);
    w.state = d.wallet;
    for (const core::Event& e : d.events) {
      w.events.push_back(e);
      w.event_elements.push_back(-1);
    }
    for (const core::Reservation& r : d.reservations) {
      w.reservations[r.id] = r;
      w.changed_reservations[r.id] = false;
    }
    left -= static_cast<std::int64_t>(d.events.size());
    *expired += static_cast<std::int64_t>(d.events.size());
  }
  batch_storage::persist(wallets, {});
  return trees;
}

}  // namespace
}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_expire(max_rows): writes the expire event of up to max_rows lapsed
// holds and returns how many. Wallets are locked in lock-key order and only
// when free, so the sweep never waits on, nor deadlocks with, client calls; a
// busy wallet's holds are expired by its own next write or by the next sweep.
BASELEDGER_SQL_FUNCTION(ledger_expire) {
  return guarded([&] {
    const std::int32_t max_rows = args::required_int32(fcinfo, 0, "max_rows");
    core::validate_expire_batch(max_rows);
    const storage::Session session = storage::connect();
    access::require_role(access::Need::admin);
    std::vector<storage::DueWallet> due = storage::find_due_wallets(clock_now(), max_rows);
    // Owners in lock order. The first segment of an id is locked first by
    // every writer under it; the sweep only tries it, so it never waits.
    std::vector<std::string> owners;
    for (const storage::DueWallet& w : due) owners.push_back(w.wallet_id);
    tree_write::sort_for_locking(&owners);
    std::map<std::string, bool> tried;  // first segment -> locked
    std::set<std::string> done;         // trees already swept

    std::int64_t expired = 0;
    std::vector<std::string> roots;  // locked roots, swept in bulk
    auto sweep_roots = [&] {
      for (const std::string& id : sweep_in_bulk(roots, max_rows - expired, &expired))
        if (done.insert(id).second) expired += tree_write::expire_tree(id, max_rows - expired);
      roots.clear();
    };
    for (const std::string& owner : owners) {
      if (expired >= max_rows) break;
      const std::string first = tree_write::path_of(owner)[0];
      auto t = tried.find(first);
      if (t == tried.end())
        t = tried.emplace(first, try_lock_wallet(core::wallet_lock_key(first))).first;
      if (!t->second) continue;
      if (first == owner) {
        roots.push_back(owner);
        if (roots.size() >= bulk_sweep_wallets) sweep_roots();
        continue;
      }
      tree_write::lock_path(owner);  // cannot wait: writers below `first` hold it first
      std::optional<storage::WalletRow> wallet = storage::load_wallet_for_write(owner);
      if (!wallet) continue;
      const std::string root = wallet->is_root(owner) ? owner : wallet->root_id;
      if (done.insert(root).second) {
        tree_write::lock_path(root);
        expired += tree_write::expire_tree(root, max_rows - expired);
      }
    }
    if (expired < max_rows) sweep_roots();
    policy_storage::prune_usage(clock_now());
    storage::finish(session);
    return Int32GetDatum(static_cast<int32>(expired));
  });
}

// ledger_verify(wallet_id): one row per divergence between the events and the
// stored state; all wallets when wallet_id is NULL.
BASELEDGER_SQL_FUNCTION(ledger_verify) {
  return guarded([&] {
    const bool one = !PG_ARGISNULL(0);
    const std::string wallet_id = one ? args::wallet_id(fcinfo, 0) : std::string();
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    const storage::Session session = storage::connect();
    access::require_role(access::Need::audit);
    if (one) {
      if (!verify_wallet(fcinfo, wallet_id))
        throw core::LedgerError(core::sqlstate::wallet_not_found, "wallet not found",
                                "No wallet \"" + wallet_id + "\" exists.");
    } else {
      std::vector<std::string> ids = storage::all_wallet_ids();
      for (auto orphans :
           {storage::orphan_event_wallet_ids(), storage::orphan_reservation_wallet_ids()})
        ids.insert(ids.end(), orphans.begin(), orphans.end());
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (const std::string& id : ids) verify_wallet(fcinfo, id);
    }
    storage::finish(session);
    return Datum(0);
  });
}

// Trigger on ledger.events: the log is append-only for every role.
BASELEDGER_SQL_FUNCTION(ledger_events_immutable) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("ledger_events_immutable must be called as a trigger")));
  auto* trigdata = reinterpret_cast<TriggerData*>(fcinfo->context);
  const char* op = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)   ? "UPDATE"
                   : TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE"
                                                                 : "TRUNCATE";
  ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("ledger.events is append-only"),
                  errdetail("%s on the event log is refused for every role.", op),
                  errhint("Correct a mistake with a new event, such as a credit.")));
  PG_RETURN_NULL();
}
