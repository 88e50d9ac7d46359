// Replays a wallet's events from an empty wallet and reports every divergence
// from what is stored: the events' own snapshots, the projection row and the
// reservations. Used by ledger_verify.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/chain.hpp"
#include "core/types.hpp"

namespace baseledger::core {

class Replay {
 public:
  Replay() = default;
  // The wallet's policy bounds how far available may go: not at all for an
  // uncapped wallet, down to -overdraft otherwise. (A credit line cannot be
  // lowered below what the history already used, so the current one holds
  // for every event.)
  explicit Replay(const Policy& policy) : policy_(policy) {}

  // Feed events in seq order.
  void apply(const Event& event);
  // Checks an event's stored hash against the chain; in seq order, after
  // apply(). Reports the first event whose hash does not follow.
  void check_chain(std::string_view wallet_id, const Event& event, const EventRequest& request,
                   const std::optional<Hash>& stored);
  // Compares the end state with the stored projection and with the stored
  // rows of every reservation of the wallet's subtree (its events name them all).
  void finish(const WalletState& stored, const std::vector<Reservation>& stored_reservations);

  const std::vector<std::string>& problems() const { return problems_; }
  const WalletState& state() const { return state_; }

 private:
  void problem(const Event& e, const std::string& what);
  void problem(const std::string& what);

  Policy policy_;
  WalletState state_;
  std::map<Uuid, Reservation> reservations_;
  std::vector<std::string> problems_;
  Hash chain_head_ = genesis_hash;
  bool chain_broken_ = false;
};

}  // namespace baseledger::core
