// The canonical encoding hashed into the chain. It must never change: stored
// hashes depend on it (a new encoding would need a new version tag).
#include "core/chain.hpp"

#include "core/sha256.hpp"

namespace baseledger::core {

namespace {

class Encoder {
 public:
  void u64(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) buf_.push_back(static_cast<char>(v >> shift));
  }
  void bytes(const void* data, std::size_t n) {
    u64(n);
    buf_.append(static_cast<const char*>(data), n);
  }
  void text(std::string_view s) { bytes(s.data(), s.size()); }
  void flag(bool present) { buf_.push_back(present ? 1 : 0); }
  const std::string& data() const { return buf_; }

 private:
  std::string buf_;
};

}  // namespace

Hash event_hash(const Hash& previous, std::string_view wallet_id, const Event& e,
                const EventRequest& request) {
  Encoder enc;
  enc.text("baseledger/event/v1");
  enc.bytes(previous.data(), previous.size());
  enc.text(wallet_id);
  enc.u64(static_cast<std::uint64_t>(e.seq));
  enc.text(to_string(e.kind));
  enc.u64(static_cast<std::uint64_t>(e.amount));
  enc.flag(e.reservation_id.has_value());
  if (e.reservation_id) enc.bytes(e.reservation_id->bytes.data(), e.reservation_id->bytes.size());
  enc.flag(request.idempotency_key != nullptr);
  if (request.idempotency_key) enc.text(*request.idempotency_key);
  enc.flag(request.fingerprint != nullptr);
  if (request.fingerprint) enc.bytes(request.fingerprint->data(), request.fingerprint->size());
  enc.u64(static_cast<std::uint64_t>(e.balance));
  enc.u64(static_cast<std::uint64_t>(e.reserved));
  enc.flag(e.expires_at.has_value());
  if (e.expires_at) enc.u64(static_cast<std::uint64_t>(*e.expires_at));
  enc.u64(static_cast<std::uint64_t>(e.at));
  enc.flag(request.metadata != nullptr);
  if (request.metadata) enc.text(*request.metadata);
  if (request.origin) {
    enc.text("origin");
    enc.text(*request.origin);
  }

  Hash out;
  sha256(enc.data().data(), enc.data().size(), out.data());
  return out;
}

std::string to_hex(const Hash& hash) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t b : hash) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace baseledger::core
