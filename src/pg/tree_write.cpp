// The write path: lock the path, load it and the tree's lapsed holds, decide,
// store. A root without children, limits or alerts takes the same path with
// one wallet and one plain statement per table.
#include "pg/tree_write.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "core/errors.hpp"
#include "pg/error_wall.hpp"
#include "pg/locks.hpp"
#include "pg/policy_storage.hpp"
#include "pg/settings.hpp"

namespace baseledger::pg::tree_write {

namespace {

using core::LedgerError;
namespace sqlstate = core::sqlstate;

// The most lapsed holds of one tree a call expires; the rest stay counted
// (a refusal can only err on the safe side) until the next call or sweep.
constexpr std::int64_t tree_due_max = 10000;

[[noreturn]] void wallet_not_found(const std::string& wallet_id) {
  if (storage::wallet_created_after_snapshot(wallet_id))
    throw LedgerError(sqlstate::serialization_failure,
                      "could not serialize access due to a concurrently created wallet",
                      "Wallet \"" + wallet_id + "\" was created after this transaction's snapshot.",
                      "Retry the transaction.");
  throw LedgerError(sqlstate::wallet_not_found, "wallet not found",
                    "No wallet \"" + wallet_id + "\" exists.",
                    "Create it with ledger_create_wallet.");
}

core::Level level_of(const std::string& wallet_id, const storage::WalletRow& row) {
  core::Level l;
  l.wallet_id = wallet_id;
  if (!row.is_root(wallet_id)) l.parent_id = core::parent_of(wallet_id);
  l.state = row.state;
  l.policy = row.policy;
  l.has_limits = row.has_limits;
  l.has_alerts = row.has_alerts;
  return l;
}

// Loads the tree's due holds, and locks and loads the wallets that own them
// and their ancestors. A wallet loaded late may have a later last event,
// which moves the horizon; a few rounds settle it. Returns the earliest
// expiry of the tree's active holds, those loaded included (nullopt when
// unknown: the limit cut the list short).
std::optional<core::Micros> load_tree_due(const std::string& root, core::TreeInput* in,
                                          std::int64_t limit = tree_due_max) {
  std::optional<core::Micros> next_expiry;
  for (int round = 0; round < 4; ++round) {
    const core::Micros t0 = core::first_step_time(*in);
    std::vector<storage::OwnedHold> holds =
        storage::load_due_tree(root, t0 + core::due_margin, limit);
    next_expiry = std::nullopt;
    if (static_cast<std::int64_t>(holds.size()) < limit) {
      next_expiry = storage::tree_next_expiry(root, t0 + core::due_margin);
      for (const storage::OwnedHold& h : holds)
        next_expiry = std::min(*next_expiry, h.hold.expires_at);
    }
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < in->wallets.size(); ++i) index[in->wallets[i].wallet_id] = i;
    for (const storage::OwnedHold& h : holds) {
      // The owner and its ancestors, up to one already loaded. Locking them
      // out of the usual order is safe: every writer of a wallet under the
      // root holds the root's lock first, and that lock is ours.
      for (std::string id = h.owner; !id.empty() && !index.count(id);) {
        lock_wallet(core::wallet_lock_key(id));
        std::optional<storage::WalletRow> row = storage::load_wallet_for_write(id);
        if (!row)
          throw LedgerError(sqlstate::internal_error, "a hold's wallet is missing",
                            "Wallet \"" + id + "\" owns an active hold but has no row.");
        index[id] = in->wallets.size();
        in->wallets.push_back(level_of(id, *row));
        id = in->wallets.back().parent_id;
      }
    }
    in->due.clear();
    for (storage::OwnedHold& h : holds) in->due.push_back(core::DueHold{h.hold, index.at(h.owner)});
    if (core::first_step_time(*in) == t0) return next_expiry;
  }
  return next_expiry;
}

}  // namespace

std::vector<std::string> path_of(const std::string& wallet_id) {
  std::vector<std::string> out;
  for (std::size_t slash = wallet_id.find('/'); slash != std::string::npos;
       slash = wallet_id.find('/', slash + 1))
    out.push_back(wallet_id.substr(0, slash));
  out.push_back(wallet_id);
  return out;
}

void sort_for_locking(std::vector<std::string>* ids) {
  std::vector<std::pair<std::uint64_t, std::string>> keyed;
  keyed.reserve(ids->size());
  for (std::string& id : *ids) {
    const std::size_t slash = id.find('/');
    const std::string_view first =
        slash == std::string::npos ? std::string_view(id) : std::string_view(id).substr(0, slash);
    keyed.emplace_back(core::wallet_lock_key(first), std::move(id));
  }
  std::sort(keyed.begin(), keyed.end());
  keyed.erase(std::unique(keyed.begin(), keyed.end()), keyed.end());
  ids->clear();
  for (auto& [key, id] : keyed) ids->push_back(std::move(id));
}

void lock_path(const std::string& wallet_id) {
  for (const std::string& id : path_of(wallet_id)) lock_wallet(core::wallet_lock_key(id));
}

Prepared prepare(const std::string& wallet_id, const std::string& key, const core::Command& command,
                 const core::Fingerprint& fingerprint) {
  Prepared out;
  std::optional<storage::WalletRow> leaf = storage::load_wallet_for_write(wallet_id);
  if (!leaf) wallet_not_found(wallet_id);

  // The idempotency shield: a known key replays its event or is refused.
  if (std::optional<storage::KeyedEvent> prior = storage::find_event_by_key(wallet_id, key)) {
    if (prior->fingerprint != fingerprint)
      throw LedgerError(
          sqlstate::idempotency_conflict, "idempotency key already used with different arguments",
          "Key \"" + key + "\" was used by the " + core::to_string(prior->event.kind) +
              " event with seq " + std::to_string(prior->event.seq) + " of wallet \"" + wallet_id +
              "\".",
          "Retry a request with its original arguments, or use a new key for a new request.");
    out.replayed = true;
    out.replayed_event = prior->event;
    return out;
  }

  // The wallet's ancestors (string prefixes of its id, locked already), root first.
  core::TreeInput in;
  in.clock = clock_now();
  in.wallets.push_back(level_of(wallet_id, *leaf));
  std::optional<core::Micros> root_next_expiry = leaf->next_expiry;
  while (!in.wallets.back().parent_id.empty()) {
    const std::string id = in.wallets.back().parent_id;
    std::optional<storage::WalletRow> row = storage::load_wallet_for_write(id);
    if (!row) wallet_not_found(id);
    in.wallets.push_back(level_of(id, *row));
    root_next_expiry = row->next_expiry;
  }
  std::reverse(in.wallets.begin(), in.wallets.end());
  in.path_size = in.wallets.size();
  const std::string root = in.wallets.front().wallet_id;
  out.root = root;

  // The tree's lapsed holds. A root counts every open hold of its tree:
  // without any, none is due; and none is due before the root's next expiry.
  const core::Micros due_until = core::first_step_time(in) + core::due_margin;
  if (in.wallets.front().state.active_reservations == 0) {
    out.root_next_expiry = storage::no_expiry;
  } else if (root_next_expiry && due_until < *root_next_expiry) {
    out.root_next_expiry = root_next_expiry;
  } else if (in.path_size == 1 && leaf->children == 0) {
    for (core::Reservation& r : storage::load_due(
             wallet_id, due_until, std::numeric_limits<std::int64_t>::max(), &out.root_next_expiry))
      in.due.push_back(core::DueHold{r, 0});
  } else {
    out.root_next_expiry = load_tree_due(root, &in);
  }
  if (command.reservation_id)
    in.target = storage::load_reservation(wallet_id, *command.reservation_id);
  in.max_active_reservations = max_active_reservations();
  if (command.kind == core::EventKind::reserve)
    in.new_reservation_id = storage::new_reservation_id();

  const core::Micros judged_at = core::command_time(in);
  for (std::size_t i = 0; i < in.path_size; ++i)
    if (in.wallets[i].has_limits)
      in.wallets[i].limits = policy_storage::load_limits(in.wallets[i].wallet_id, judged_at);

  out.decision = core::decide_tree(in, &command);
  return out;
}

void store(const Prepared& prepared, storage::CommandRecord record) {
  record.root = &prepared.root;
  record.root_next_expiry = prepared.root_next_expiry;
  store(prepared.decision, record);
}

void store(const core::TreeDecision& decision, const storage::CommandRecord& record) {
  storage::persist_tree(decision, record);
  for (const core::UsageDelta& d : decision.usage)
    policy_storage::add_usage(decision.wallets[d.wallet].wallet_id, d.admitted_at, d.amount,
                              d.requests);
  for (std::size_t i = 0; i < decision.wallets.size(); ++i) {
    const core::Level& l = decision.wallets[i];
    if (l.has_alerts && !decision.events[i].empty())
      policy_storage::evaluate_alerts(l.wallet_id, l.state.available(), decision.command_time);
  }
}

std::int64_t expire_tree(const std::string& root, std::int64_t max_rows) {
  std::optional<storage::WalletRow> row = storage::load_wallet_for_write(root);
  if (!row) return 0;
  core::TreeInput in;
  in.clock = clock_now();
  in.wallets.push_back(level_of(root, *row));
  in.path_size = 1;
  storage::CommandRecord record;
  record.root = &root;
  record.root_next_expiry = load_tree_due(root, &in, std::min(max_rows, tree_due_max));
  if (in.due.empty()) return 0;
  const core::TreeDecision decision = core::decide_tree(in, nullptr);
  store(decision, record);
  return static_cast<std::int64_t>(decision.reservations.size());
}

}  // namespace baseledger::pg::tree_write
