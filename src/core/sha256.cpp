#include "core/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace baseledger::core {

namespace {

// The fetched digest and a context kept for the life of the thread (a
// backend is one thread; they are released with the process). Null when
// OpenSSL could not provide them, in which case the one-shot call is used.
struct Context {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = md ? EVP_MD_CTX_new() : nullptr;
};

}  // namespace

void sha256(const void* data, std::size_t size, std::uint8_t* out) {
  thread_local Context c;
  unsigned int len = 0;
  if (c.ctx && EVP_DigestInit_ex2(c.ctx, c.md, nullptr) == 1 &&
      EVP_DigestUpdate(c.ctx, data, size) == 1 && EVP_DigestFinal_ex(c.ctx, out, &len) == 1 &&
      len == SHA256_DIGEST_LENGTH)
    return;
  SHA256(static_cast<const unsigned char*>(data), size, out);
}

}  // namespace baseledger::core
