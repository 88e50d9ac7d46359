// Input validation: wallet ids, idempotency keys, amounts, ttl, metadata,
// history pages and expire batches (22023), and null arguments (22004).
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "core/limits.hpp"
#include "core/validate.hpp"
#include "expect_sqlstate.hpp"

namespace baseledger::core {
namespace {

constexpr const char* k22023 = sqlstate::invalid_parameter_value;
constexpr Micros kSecond = 1000000;

// ---- wallet ids ----

class RejectedWalletId : public ::testing::TestWithParam<std::string> {};

TEST_P(RejectedWalletId, Is22023) {
  EXPECT_SQLSTATE(validate_wallet_id(GetParam()), k22023);
}

INSTANTIATE_TEST_SUITE_P(WalletId, RejectedWalletId,
                         ::testing::Values(std::string(), "/", "/a", "a/", "a//b", "acme//agent",
                                           "a b", " a", "a ", "a\tb", "a\nb", "a\\b", "a#b", "a*b",
                                           "a,b", "a+b", "a'b", "a\"b", "caf\xc3\xa9",
                                           std::string("a\0b", 3), std::string(201, 'a'),
                                           std::string(199, 'a') + "/b", std::string(300, 'x')));

class AcceptedWalletId : public ::testing::TestWithParam<std::string> {};

TEST_P(AcceptedWalletId, Passes) {
  EXPECT_NO_THROW(validate_wallet_id(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(WalletId, AcceptedWalletId,
                         ::testing::Values("acme/research/agent-7", "a", "Z", "0", "a/b",
                                           "a.b_c:d@e-f", "user@example.com/run:42", "._:@-",
                                           "a/b/c/d/e/f", std::string(200, 'a'),
                                           std::string(198, 'a') + "/b"));

TEST(ValidateWalletId, LimitIsTwoHundred) {
  EXPECT_EQ(limits::wallet_id_max_chars, 200u);
}

TEST(ValidateWalletId, ErrorHasMessageDetailAndHint) {
  try {
    validate_wallet_id("a//b");
    FAIL() << "no error raised";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.what(), "invalid wallet id");
    EXPECT_NE(e.detail().find("empty segment"), std::string::npos) << e.detail();
    EXPECT_NE(e.hint().find("acme/research/agent-7"), std::string::npos) << e.hint();
  }
}

// ---- idempotency keys ----

TEST(ValidateIdempotencyKey, RejectsEmptyAndTooLong) {
  EXPECT_SQLSTATE(validate_idempotency_key(0), k22023);
  EXPECT_SQLSTATE(validate_idempotency_key(256), k22023);
  EXPECT_SQLSTATE(validate_idempotency_key(100000), k22023);
}

TEST(ValidateIdempotencyKey, AcceptsOneToTwoHundredFiftyFive) {
  EXPECT_NO_THROW(validate_idempotency_key(1));
  EXPECT_NO_THROW(validate_idempotency_key(36));
  EXPECT_NO_THROW(validate_idempotency_key(255));
}

// ---- amounts ----

TEST(ValidatePositiveAmount, RejectsZeroAndNegative) {
  EXPECT_SQLSTATE(validate_positive_amount("amount", 0), k22023);
  EXPECT_SQLSTATE(validate_positive_amount("amount", -1), k22023);
  EXPECT_SQLSTATE(validate_positive_amount("amount", std::numeric_limits<Amount>::min()), k22023);
}

TEST(ValidatePositiveAmount, AcceptsPositive) {
  EXPECT_NO_THROW(validate_positive_amount("amount", 1));
  EXPECT_NO_THROW(validate_positive_amount("amount", std::numeric_limits<Amount>::max()));
}

TEST(ValidatePositiveAmount, MessageNamesTheArgument) {
  try {
    validate_positive_amount("credit_amount", 0);
    FAIL() << "no error raised";
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.what(), "\"credit_amount\" must be greater than zero");
  }
}

TEST(ValidateCaptureAmount, AcceptsZeroAndPositive) {
  EXPECT_NO_THROW(validate_capture_amount(0));
  EXPECT_NO_THROW(validate_capture_amount(1));
  EXPECT_NO_THROW(validate_capture_amount(std::numeric_limits<Amount>::max()));
}

TEST(ValidateCaptureAmount, RejectsNegative) {
  EXPECT_SQLSTATE(validate_capture_amount(-1), k22023);
  EXPECT_SQLSTATE(validate_capture_amount(std::numeric_limits<Amount>::min()), k22023);
}

// ---- ttl ----

TEST(ValidateTtl, RejectsNonPositive) {
  EXPECT_SQLSTATE(validate_ttl(0, 3600 * kSecond), k22023);
  EXPECT_SQLSTATE(validate_ttl(-1, 3600 * kSecond), k22023);
  EXPECT_SQLSTATE(validate_ttl(std::numeric_limits<Micros>::min(), 3600 * kSecond), k22023);
}

TEST(ValidateTtl, RejectsAboveMaximum) {
  EXPECT_SQLSTATE(validate_ttl(3600 * kSecond + 1, 3600 * kSecond), k22023);
  EXPECT_SQLSTATE(validate_ttl(std::numeric_limits<Micros>::max(), 3600 * kSecond), k22023);
}

TEST(ValidateTtl, AcceptsOneMicrosecondUpToMaximum) {
  EXPECT_NO_THROW(validate_ttl(1, 3600 * kSecond));
  EXPECT_NO_THROW(validate_ttl(30 * kSecond, 3600 * kSecond));
  EXPECT_NO_THROW(validate_ttl(3600 * kSecond, 3600 * kSecond));
}

// ---- metadata ----

TEST(ValidateMetadata, RejectsNonObjects) {
  EXPECT_SQLSTATE(validate_metadata(""), k22023);
  EXPECT_SQLSTATE(validate_metadata("[]"), k22023);
  EXPECT_SQLSTATE(validate_metadata("[{}]"), k22023);
  EXPECT_SQLSTATE(validate_metadata("\"{}\""), k22023);
  EXPECT_SQLSTATE(validate_metadata("null"), k22023);
  EXPECT_SQLSTATE(validate_metadata("42"), k22023);
  EXPECT_SQLSTATE(validate_metadata(" {}"), k22023);
}

TEST(ValidateMetadata, AcceptsObjects) {
  EXPECT_NO_THROW(validate_metadata("{}"));
  EXPECT_NO_THROW(validate_metadata("{\"task\": \"summarise\", \"tokens\": 1200}"));
}

std::string object_of_size(std::size_t bytes) {
  // {"k": "xxx...x"} with enough x to reach the size exactly.
  const std::string head = "{\"k\": \"";
  const std::string tail = "\"}";
  return head + std::string(bytes - head.size() - tail.size(), 'x') + tail;
}

TEST(ValidateMetadata, SizeLimitIsEightKilobytes) {
  EXPECT_EQ(limits::metadata_max_bytes, 8192u);
  const std::string at_limit = object_of_size(8192);
  ASSERT_EQ(at_limit.size(), 8192u);
  EXPECT_NO_THROW(validate_metadata(at_limit));
  const std::string over = object_of_size(8193);
  ASSERT_EQ(over.size(), 8193u);
  EXPECT_SQLSTATE(validate_metadata(over), k22023);
  EXPECT_SQLSTATE(validate_metadata(object_of_size(100000)), k22023);
}

// ---- history pages and expire batches ----

TEST(ValidateHistoryPage, AcceptsBounds) {
  EXPECT_NO_THROW(validate_history_page(0, 1));
  EXPECT_NO_THROW(validate_history_page(0, 10000));
  EXPECT_NO_THROW(validate_history_page(std::numeric_limits<std::int64_t>::max(), 100));
}

TEST(ValidateHistoryPage, RejectsOutOfBounds) {
  EXPECT_SQLSTATE(validate_history_page(-1, 100), k22023);
  EXPECT_SQLSTATE(validate_history_page(0, 0), k22023);
  EXPECT_SQLSTATE(validate_history_page(0, -1), k22023);
  EXPECT_SQLSTATE(validate_history_page(0, 10001), k22023);
  EXPECT_SQLSTATE(validate_history_page(0, std::numeric_limits<std::int32_t>::max()), k22023);
}

TEST(ValidateExpireBatch, AcceptsBounds) {
  EXPECT_NO_THROW(validate_expire_batch(1));
  EXPECT_NO_THROW(validate_expire_batch(1000));
  EXPECT_NO_THROW(validate_expire_batch(1000000));
}

TEST(ValidateExpireBatch, RejectsOutOfBounds) {
  EXPECT_SQLSTATE(validate_expire_batch(0), k22023);
  EXPECT_SQLSTATE(validate_expire_batch(-5), k22023);
  EXPECT_SQLSTATE(validate_expire_batch(1000001), k22023);
  EXPECT_SQLSTATE(validate_expire_batch(std::numeric_limits<std::int32_t>::min()), k22023);
}

// ---- null arguments ----

TEST(ThrowNullArgument, Is22004AndNamesTheArgument) {
  EXPECT_SQLSTATE(throw_null_argument("wallet_id"), sqlstate::null_value_not_allowed);
  try {
    throw_null_argument("wallet_id");
  } catch (const LedgerError& e) {
    EXPECT_STREQ(e.what(), "argument \"wallet_id\" must not be null");
  }
}

}  // namespace
}  // namespace baseledger::core
