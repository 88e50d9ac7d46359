// The batch calls: ledger_reserve_batch and ledger_settle_batch. One element
// per call, with the single calls' semantics and idempotency; a refused
// element reports its SQLSTATE in its row and does not stop the others.
// Wallets are locked in one fixed order (lock key, then id), so concurrent
// batches never deadlock; their reads and writes are one statement per table.
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <tuple>

#include "core/batch.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"
#include "core/limits.hpp"
#include "core/validate.hpp"
#include "pg/access.hpp"
#include "pg/arguments.hpp"
#include "pg/batch_storage.hpp"
#include "pg/error_wall.hpp"
#include "pg/locks.hpp"
#include "pg/tree_write.hpp"
#include "pg/settings.hpp"
#include "pg/storage.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace baseledger::pg {
namespace {

using core::LedgerError;

// One batch element, decoded.
struct Element {
  const char* sqlstate = "00000";
  std::string message;
  bool has_wallet = false;
  std::string wallet_id;
  std::string key;
  core::Command command;
  core::Fingerprint fingerprint{};
  Datum metadata = 0;
  bool metadata_null = true;
  core::ElementOutcome outcome;
  bool slow = false;  // run through the single calls' path (a wallet in a tree)
};

// The elements of one array argument, with their NULL flags.
struct ArrayArg {
  Datum* values = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  bool present = false;
};

ArrayArg array_arg(FunctionCallInfo fcinfo, int n, const char* name, Oid type, bool required) {
  ArrayArg out;
  if (PG_NARGS() <= n || PG_ARGISNULL(n)) {
    if (required) core::throw_null_argument(name);
    return out;
  }
  int ndim = 0;
  pg_try([&] {
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(n);
    ndim = ARR_NDIM(a);
    if (ndim <= 1) {
      int16 typlen;
      bool byval;
      char align;
      get_typlenbyvalalign(type, &typlen, &byval, &align);
      deconstruct_array(a, type, typlen, byval, align, &out.values, &out.nulls, &out.count);
    }
  });
  if (ndim > 1)
    throw LedgerError(core::sqlstate::invalid_parameter_value,
                      std::string("\"") + name + "\" must be a one-dimensional array");
  out.present = true;
  return out;
}

// Checks that every array has one element per call, within the batch limit.
int batch_size(std::initializer_list<std::pair<const char*, const ArrayArg*>> arrays) {
  int n = arrays.begin()->second->count;
  for (const auto& [name, a] : arrays)
    if (a->present && a->count != n)
      throw LedgerError(core::sqlstate::invalid_parameter_value, "batch arrays differ in length",
                        std::string("\"") + name + "\" has " + std::to_string(a->count) +
                            " elements; the batch has " + std::to_string(n) + ".");
  if (n > core::limits::batch_max_elements)
    throw LedgerError(core::sqlstate::invalid_parameter_value, "batch too large",
                      "The batch has " + std::to_string(n) + " elements; the limit is " +
                          std::to_string(core::limits::batch_max_elements) + ".");
  return n;
}

std::string text_element(const ArrayArg& a, int i) {
  struct Bytes {
    const char* data;
    int len;
  };
  Bytes b = pg_call([&] {
    text* t = DatumGetTextPP(a.values[i]);
    return Bytes{VARDATA_ANY(t), static_cast<int>(VARSIZE_ANY_EXHDR(t))};
  });
  return std::string(b.data, b.len);
}

void require_element(const ArrayArg& a, int i, const char* name) {
  if (a.nulls[i]) core::throw_null_argument(name);
}

// Records the element's wallet id first, so that every refused row names it.
void name_wallet(Element& e, const ArrayArg& wallets, int i) {
  require_element(wallets, i, "wallet_ids");
  e.wallet_id = text_element(wallets, i);
  e.has_wallet = true;
}

// Decodes what every element has: wallet, key, metadata.
void decode_common(Element& e, int i, const ArrayArg& wallets, const ArrayArg& keys,
                   const ArrayArg& metadata) {
  name_wallet(e, wallets, i);
  core::validate_wallet_id(e.wallet_id);
  require_element(keys, i, "idempotency_keys");
  e.key = text_element(keys, i);
  int chars = pg_call([&] { return pg_mbstrlen_with_len(e.key.data(), e.key.size()); });
  core::validate_idempotency_key(static_cast<std::size_t>(chars));
  if (metadata.present && !metadata.nulls[i]) {
    char* canonical = pg_call([&] {
      Jsonb* jb = DatumGetJsonbP(metadata.values[i]);
      return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
    });
    e.command.metadata = std::string(canonical);
    core::validate_metadata(*e.command.metadata);
    e.metadata = metadata.values[i];
    e.metadata_null = false;
  }
}

core::Micros ttl_element(const ArrayArg& ttls, int i) {
  require_element(ttls, i, "ttls");
  const Interval* iv = DatumGetIntervalP(ttls.values[i]);
  return args::interval_micros(iv);
}

// Locks, loads, decides and persists the valid elements; fills their outcomes.
void execute_batch(std::vector<Element>& elements) {
  // Elements on wallets outside the caller's grants are refused first, with
  // nothing said about the wallet.
  std::map<std::string, bool> permitted;
  for (Element& e : elements) {
    if (std::string_view(e.sqlstate) != "00000") continue;
    auto it = permitted.find(e.wallet_id);
    if (it == permitted.end())
      it = permitted.emplace(e.wallet_id, access::allowed(e.wallet_id, access::Need::spend)).first;
    if (!it->second) {
      e.sqlstate = "42501";
      e.message = "permission denied for wallet \"" + e.wallet_id + "\"";
    }
  }
  // Every element's wallet and its ancestors, locked in the one order all
  // callers use (tree by tree, root first).
  std::vector<std::string> ids, locks;
  for (const Element& e : elements)
    if (std::string_view(e.sqlstate) == "00000") {
      ids.push_back(e.wallet_id);
      for (const std::string& id : tree_write::path_of(e.wallet_id)) locks.push_back(id);
    }
  tree_write::sort_for_locking(&locks);
  if (locks.empty()) return;
  for (const std::string& id : locks) lock_wallet(core::wallet_lock_key(id));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  batch_storage::Wallets wallets;
  batch_storage::load_wallets(ids, &wallets);

  // Elements on wallets in a tree, or with limits or alerts, take the single
  // calls' path one by one, in element order; their wallets are disjoint
  // from the others', which keep the bulk path.
  for (std::size_t i = 0; i < elements.size(); ++i) {
    Element& e = elements[i];
    if (std::string_view(e.sqlstate) != "00000") continue;
    auto w = wallets.find(e.wallet_id);
    if (w == wallets.end() || w->second.stands_alone) continue;
    e.slow = true;
    tree_write::Prepared prepared;
    try {
      prepared = tree_write::prepare(e.wallet_id, e.key, e.command, e.fingerprint);
    } catch (const LedgerError& refusal) {
      e.sqlstate = refusal.sqlstate();
      e.message = refusal.what();
      continue;
    }
    e.outcome.replayed = prepared.replayed;
    if (prepared.replayed) {
      e.outcome.event = prepared.replayed_event;
      continue;
    }
    storage::CommandRecord record;
    record.idempotency_key = &e.key;
    record.fingerprint = &e.fingerprint;
    record.metadata = e.metadata;
    record.metadata_null = e.metadata_null;
    record.metadata_text = e.command.metadata ? &*e.command.metadata : nullptr;
    tree_write::store(prepared, record);
    e.outcome.event = prepared.decision.command_event();
  }
  for (auto it = wallets.begin(); it != wallets.end();)
    it = it->second.stands_alone ? std::next(it) : wallets.erase(it);

  std::vector<std::string> key_wallets, keys, target_wallets;
  std::vector<core::Uuid> targets;
  for (Element& e : elements) {
    if (std::string_view(e.sqlstate) != "00000" || e.slow) continue;
    if (!wallets.count(e.wallet_id)) {
      // As for single calls: a wallet created after a REPEATABLE READ snapshot is a conflict.
      if (storage::wallet_created_after_snapshot(e.wallet_id))
        throw LedgerError(
            core::sqlstate::serialization_failure,
            "could not serialize access due to a concurrently created wallet",
            "Wallet \"" + e.wallet_id + "\" was created after this transaction's snapshot.",
            "Retry the transaction.");
      e.sqlstate = core::sqlstate::wallet_not_found;
      e.message = "wallet not found";
      continue;
    }
    key_wallets.push_back(e.wallet_id);
    keys.push_back(e.key);
    if (e.command.reservation_id) {
      target_wallets.push_back(e.wallet_id);
      targets.push_back(*e.command.reservation_id);
    }
  }
  if (key_wallets.empty()) return;

  const core::Micros clock = clock_now();
  core::Micros due_until = clock;
  for (const auto& [id, w] : wallets)
    due_until = std::max(due_until, core::next_event_time(w.state, clock));
  batch_storage::load_keys(key_wallets, keys, &wallets);
  batch_storage::load_due(due_until + core::due_margin, &wallets);
  if (!targets.empty()) batch_storage::load_reservations(target_wallets, targets, &wallets);

  std::vector<batch_storage::ElementRecord> records(elements.size());
  for (std::size_t i = 0; i < elements.size(); ++i) {
    Element& e = elements[i];
    if (std::string_view(e.sqlstate) != "00000" || e.slow) continue;
    const core::Uuid id =
        e.command.kind == core::EventKind::reserve ? storage::new_reservation_id() : core::Uuid{};
    e.outcome = core::apply_element(wallets.at(e.wallet_id), static_cast<int>(i), e.key, e.command,
                                    e.fingerprint, clock, id, max_active_reservations());
    e.sqlstate = e.outcome.sqlstate;
    e.message = e.outcome.message;
    records[i] = batch_storage::ElementRecord{&e.key, &e.fingerprint, e.metadata, e.metadata_null,
                                              e.command.metadata ? &*e.command.metadata : nullptr};
  }
  batch_storage::persist(wallets, records);
}

// Adds one result row per element, in element order.
void put_rows(FunctionCallInfo fcinfo, const std::vector<Element>& elements) {
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const Element& e = elements[i];
    const bool ok = std::string_view(e.sqlstate) == "00000";
    const core::Event& ev = e.outcome.event;
    Datum values[14] = {Int32GetDatum(static_cast<int32>(i + 1)),
                        storage::text_datum(e.sqlstate),
                        ok ? 0 : storage::text_datum(e.message),
                        e.has_wallet ? storage::text_datum(e.wallet_id) : 0,
                        Int64GetDatum(ev.seq),
                        ok ? storage::text_datum(core::to_string(ev.kind)) : 0,
                        ok && ev.reservation_id ? storage::uuid_datum(*ev.reservation_id) : 0,
                        Int64GetDatum(ev.amount),
                        Int64GetDatum(ev.balance),
                        Int64GetDatum(ev.reserved),
                        Int64GetDatum(ev.balance - ev.reserved),
                        TimestampTzGetDatum(ev.expires_at.value_or(0)),
                        TimestampTzGetDatum(ev.at),
                        BoolGetDatum(e.outcome.replayed)};
    bool nulls[14] = {
        false, false, ok,  !e.has_wallet,          !ok, !ok, !(ok && ev.reservation_id), !ok,
        !ok,   !ok,   !ok, !(ok && ev.expires_at), !ok, !ok};
    pg_try([&] {
      auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
}

// Runs a validated batch and returns its rows.
Datum run_batch(FunctionCallInfo fcinfo, std::vector<Element>& elements) {
  for (Element& e : elements)
    if (std::string_view(e.sqlstate) == "00000") e.fingerprint = core::fingerprint(e.command);
  pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
  const storage::Session session = storage::connect();
  execute_batch(elements);
  storage::finish(session);
  put_rows(fcinfo, elements);
  return Datum(0);
}

// Runs decode for element i, recording a refusal in the element.
template <typename Decode>
void decode_element(Element& e, Decode&& decode) {
  try {
    decode();
  } catch (const LedgerError& err) {
    e.sqlstate = err.sqlstate();
    e.message = err.what();
  }
}

}  // namespace
}  // namespace baseledger::pg

using namespace baseledger;
using namespace baseledger::pg;

// ledger_reserve_batch(wallet_ids, amounts, ttls, idempotency_keys, metadata):
// one ledger_reserve per element.
BASELEDGER_SQL_FUNCTION(ledger_reserve_batch) {
  return guarded([&] {
    const ArrayArg wallets = array_arg(fcinfo, 0, "wallet_ids", TEXTOID, true);
    const ArrayArg amounts = array_arg(fcinfo, 1, "amounts", INT8OID, true);
    const ArrayArg ttls = array_arg(fcinfo, 2, "ttls", INTERVALOID, true);
    const ArrayArg keys = array_arg(fcinfo, 3, "idempotency_keys", TEXTOID, true);
    const ArrayArg metadata = array_arg(fcinfo, 4, "metadata", JSONBOID, false);
    const int n = batch_size({{"wallet_ids", &wallets},
                              {"amounts", &amounts},
                              {"ttls", &ttls},
                              {"idempotency_keys", &keys},
                              {"metadata", &metadata}});
    std::vector<Element> elements(n);
    for (int i = 0; i < n; ++i) {
      Element& e = elements[i];
      e.command.kind = core::EventKind::reserve;
      decode_element(e, [&] {
        name_wallet(e, wallets, i);
        require_element(amounts, i, "amounts");
        e.command.amount = DatumGetInt64(amounts.values[i]);
        decode_common(e, i, wallets, keys, metadata);
        core::validate_positive_amount("amount", e.command.amount);
        e.command.ttl = ttl_element(ttls, i);
      });
    }
    return run_batch(fcinfo, elements);
  });
}

// ledger_settle_batch(wallet_ids, reservation_ids, amounts, idempotency_keys,
// metadata): one ledger_settle per element.
BASELEDGER_SQL_FUNCTION(ledger_settle_batch) {
  return guarded([&] {
    const ArrayArg wallets = array_arg(fcinfo, 0, "wallet_ids", TEXTOID, true);
    const ArrayArg reservations = array_arg(fcinfo, 1, "reservation_ids", UUIDOID, true);
    const ArrayArg amounts = array_arg(fcinfo, 2, "amounts", INT8OID, true);
    const ArrayArg keys = array_arg(fcinfo, 3, "idempotency_keys", TEXTOID, true);
    const ArrayArg metadata = array_arg(fcinfo, 4, "metadata", JSONBOID, false);
    const int n = batch_size({{"wallet_ids", &wallets},
                              {"reservation_ids", &reservations},
                              {"amounts", &amounts},
                              {"idempotency_keys", &keys},
                              {"metadata", &metadata}});
    std::vector<Element> elements(n);
    for (int i = 0; i < n; ++i) {
      Element& e = elements[i];
      e.command.kind = core::EventKind::settle;
      decode_element(e, [&] {
        name_wallet(e, wallets, i);
        require_element(reservations, i, "reservation_ids");
        require_element(amounts, i, "amounts");
        core::Uuid id;
        std::memcpy(id.bytes.data(), DatumGetUUIDP(reservations.values[i])->data, UUID_LEN);
        e.command.reservation_id = id;
        e.command.amount = DatumGetInt64(amounts.values[i]);
        decode_common(e, i, wallets, keys, metadata);
        core::validate_capture_amount(e.command.amount);
      });
    }
    return run_batch(fcinfo, elements);
  });
}
