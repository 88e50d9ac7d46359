// Request fingerprints (equal commands agree, any changed field disagrees, the
// encoding is pinned by known digests) and wallet lock keys.
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/fingerprint.hpp"
#include "core/sha256.hpp"

namespace baseledger::core {
namespace {

Uuid uuid_of(std::uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

std::string hex(const Fingerprint& f) {
  std::string out;
  char buf[3];
  for (std::uint8_t b : f) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

Command base_command() {
  Command c;
  c.kind = EventKind::settle;
  c.amount = 250;
  c.ttl = 30000000;
  c.reservation_id = uuid_of(7);
  c.metadata = "{\"task\": \"x\"}";
  return c;
}

TEST(Fingerprint, EqualCommandsGiveEqualFingerprints) {
  const Command a = base_command();
  const Command b = base_command();
  EXPECT_EQ(fingerprint(a), fingerprint(b));
  EXPECT_EQ(fingerprint(a), fingerprint(a));

  Command c1, c2;  // default commands, no optional fields
  EXPECT_EQ(fingerprint(c1), fingerprint(c2));
}

TEST(Fingerprint, EachFieldChangesIt) {
  const Command base = base_command();
  const Fingerprint f = fingerprint(base);

  for (EventKind kind : {EventKind::credit, EventKind::debit, EventKind::reserve, EventKind::cancel,
                         EventKind::extend}) {
    Command c = base;
    c.kind = kind;
    EXPECT_NE(fingerprint(c), f) << "kind " << to_string(kind);
  }
  {
    Command c = base;
    c.amount = 251;
    EXPECT_NE(fingerprint(c), f) << "amount";
  }
  {
    Command c = base;
    c.amount = -250;
    EXPECT_NE(fingerprint(c), f) << "amount sign";
  }
  {
    Command c = base;
    c.ttl = 30000001;
    EXPECT_NE(fingerprint(c), f) << "ttl";
  }
  {
    Command c = base;
    c.reservation_id = uuid_of(8);
    EXPECT_NE(fingerprint(c), f) << "reservation id";
  }
  {
    Command c = base;
    c.reservation_id->bytes[0] = 0x80;  // a byte far from the others
    EXPECT_NE(fingerprint(c), f) << "reservation id first byte";
  }
  {
    Command c = base;
    c.reservation_id.reset();
    EXPECT_NE(fingerprint(c), f) << "reservation id absent";
  }
  {
    Command c = base;
    c.metadata.reset();
    EXPECT_NE(fingerprint(c), f) << "metadata absent";
  }
  {
    Command c = base;
    c.metadata = "{\"task\": \"y\"}";
    EXPECT_NE(fingerprint(c), f) << "metadata different";
  }
  {
    Command c = base;
    c.metadata = "{}";
    EXPECT_NE(fingerprint(c), f) << "metadata empty object";
  }
}

TEST(Fingerprint, AbsentOptionalsDifferFromZeroOrEmptyOnes) {
  Command absent;
  absent.kind = EventKind::credit;
  absent.amount = 5;

  Command zero_id = absent;
  zero_id.reservation_id = Uuid{};  // all-zero uuid is present, not absent
  EXPECT_NE(fingerprint(absent), fingerprint(zero_id));

  Command empty_meta = absent;
  empty_meta.metadata = "";
  EXPECT_NE(fingerprint(absent), fingerprint(empty_meta));
}

TEST(Fingerprint, FieldsDoNotBleedIntoEachOther) {
  // The same bytes moved from metadata into the reservation id, or a change
  // split across two fields, must still be told apart.
  Command a;
  a.kind = EventKind::reserve;
  a.amount = 1;
  a.ttl = 0;
  Command b = a;
  b.amount = 0;
  b.ttl = 1;
  EXPECT_NE(fingerprint(a), fingerprint(b));

  Command m1 = a;
  m1.metadata = "{\"a\":1}";
  Command m2 = a;
  m2.metadata = "{\"a\":1} ";
  EXPECT_NE(fingerprint(m1), fingerprint(m2));
}

TEST(Fingerprint, KnownDigests) {
  // Fingerprints are stored with events: the encoding must never change.
  Command credit;
  credit.kind = EventKind::credit;
  credit.amount = 100;
  EXPECT_EQ(hex(fingerprint(credit)),
            "34fc394a54b0fc5bd5d2ee7bec6615ea55ef17a18ac5bfbc0315a450d465c797");

  Command settle;
  settle.kind = EventKind::settle;
  settle.amount = 250;
  Uuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<std::uint8_t>(i);
  settle.reservation_id = id;
  settle.metadata = "{\"task\": \"x\"}";
  EXPECT_EQ(hex(fingerprint(settle)),
            "d4febc009d527cc7139794523a94af4fa052e26cd73907fa8909fd8de0b10266");

  Command reserve;
  reserve.kind = EventKind::reserve;
  reserve.amount = -1;
  reserve.ttl = 30000000;
  EXPECT_EQ(hex(fingerprint(reserve)),
            "e9441db89a376adb647481058ef09cddbeffeb8e2a3c54f87ada8c2b4c75b3a9");
}

TEST(WalletLockKey, IsStable) {
  EXPECT_EQ(wallet_lock_key("acme/research/agent-7"), wallet_lock_key("acme/research/agent-7"));
  EXPECT_EQ(wallet_lock_key("acme/research/agent-7"), 0x50abf5b602708e5dULL);
}

TEST(WalletLockKey, DiffersForDifferentIds) {
  const std::vector<std::string> ids = {"a",
                                        "b",
                                        "A",
                                        "a/b",
                                        "a/c",
                                        "ab",
                                        "ba",
                                        "a.b",
                                        "acme",
                                        "acme/",
                                        "acme/research",
                                        "acme/research/agent-7",
                                        "acme/research/agent-8"};
  std::set<std::uint64_t> keys;
  for (const auto& id : ids) keys.insert(wallet_lock_key(id));
  EXPECT_EQ(keys.size(), ids.size());
  EXPECT_NE(wallet_lock_key("agent-7"), wallet_lock_key("agent-8"));
}

TEST(WalletLockKey, ManyWalletsDoNotCollide) {
  std::set<std::uint64_t> keys;
  for (int i = 0; i < 10000; ++i) keys.insert(wallet_lock_key("tenant/agent-" + std::to_string(i)));
  EXPECT_EQ(keys.size(), 10000u);
}

}  // namespace
}  // namespace baseledger::core

// FIPS 180-2 test vectors, hashed twice each so that the reused context is
// known to start clean.
TEST(Sha256, KnownVectors) {
  auto hex = [](const std::string& in) {
    baseledger::core::Sha256 d;
    baseledger::core::sha256(in.data(), in.size(), d.data());
    std::string out;
    char b[3];
    for (auto c : d) {
      std::snprintf(b, sizeof b, "%02x", c);
      out += b;
    }
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
}
