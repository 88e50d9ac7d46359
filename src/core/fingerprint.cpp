// Request fingerprints and wallet lock keys.
#include "core/fingerprint.hpp"

#include "core/sha256.hpp"

#include <string>

namespace baseledger::core {

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

}  // namespace

Fingerprint fingerprint(const Command& command) {
  std::string buf;
  buf.reserve(64 + (command.metadata ? command.metadata->size() : 0));
  buf.append("baseledger/request/v1");
  buf.push_back(static_cast<char>(command.kind));
  put_u64(buf, static_cast<std::uint64_t>(command.amount));
  put_u64(buf, static_cast<std::uint64_t>(command.ttl));
  buf.push_back(command.reservation_id ? 1 : 0);
  if (command.reservation_id)
    buf.append(reinterpret_cast<const char*>(command.reservation_id->bytes.data()), 16);
  buf.push_back(command.metadata ? 1 : 0);
  if (command.metadata) {
    put_u64(buf, command.metadata->size());
    buf.append(*command.metadata);
  }
  // Options added in 0.3.0 are encoded only when set, so requests made
  // before them keep their fingerprints.
  if (command.allow_overage) buf.append("/allow_overage");
  if (command.capture_on_expire) buf.append("/on_expire=capture");
  Fingerprint out;
  sha256(buf.data(), buf.size(), out.data());
  return out;
}

std::uint64_t wallet_lock_key(std::string_view wallet_id) {
  std::string buf("baseledger/wallet/");
  buf.append(wallet_id);
  Sha256 digest;
  sha256(buf.data(), buf.size(), digest.data());
  std::uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[i];
  return key;
}

}  // namespace baseledger::core
