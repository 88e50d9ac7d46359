// SHA-256 of a byte string. OpenSSL 3's one-shot SHA256() looks the digest
// up in its provider registry on every call (EVP_Q_digest), which cost more
// than the hashing itself on the write path; this keeps the looked-up digest
// and one context per thread and reuses them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace baseledger::core {

using Sha256 = std::array<std::uint8_t, 32>;

void sha256(const void* data, std::size_t size, std::uint8_t* out);

}  // namespace baseledger::core
