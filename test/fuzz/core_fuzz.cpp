// libFuzzer target over the pure C++ core (src/core): validation, checked
// arithmetic, read views, names, fingerprints and lock keys, and the ledger's
// state machine: random command sequences driven through decide() against an
// in-memory "storage" that behaves like src/pg's, with every outcome compared
// to an oracle written from the README's semantics, and the resulting history
// replayed with Replay at the end.
//
// Built with clang's -fsanitize=fuzzer,address,undefined by fuzz.mk. Any
// violated check prints what happened and aborts, which libFuzzer reports as a
// crash with a reproducer file.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/checked.hpp"
#include "core/decide.hpp"
#include "core/errors.hpp"
#include "core/fingerprint.hpp"
#include "core/limits.hpp"
#include "core/replay.hpp"
#include "core/types.hpp"
#include "core/validate.hpp"
#include "core/views.hpp"

namespace {

using namespace baseledger::core;
using i128 = __int128;

constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr Micros kSecond = 1000000;
// PostgreSQL's timestamp range (MIN_TIMESTAMP, END_TIMESTAMP): the clock the
// extension passes in (GetCurrentTimestamp() plus an int32 offset in ms)
// always lies inside it.
constexpr Micros kMinTimestamp = -211813488000000000LL;
constexpr Micros kEndTimestamp = 9223371331200000000LL;
// baseledger.max_ttl is an int GUC in seconds.
constexpr Micros kMaxTtlCeiling = static_cast<Micros>(std::numeric_limits<int>::max()) * kSecond;

// The trace of the current input, printed when a check fails.
std::vector<std::string>* g_trace = nullptr;

void trace(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void trace(const char* fmt, ...) {
  if (!g_trace) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_trace->emplace_back(buf);
}

[[noreturn]] void fail(const char* file, int line, const char* what, const std::string& detail) {
  std::fprintf(stderr, "\n==== core_fuzz: check failed at %s:%d: %s\n", file, line, what);
  if (!detail.empty()) std::fprintf(stderr, "     %s\n", detail.c_str());
  if (g_trace && !g_trace->empty()) {
    std::fprintf(stderr, "     trace of this input (%zu steps):\n", g_trace->size());
    for (const std::string& s : *g_trace) std::fprintf(stderr, "       %s\n", s.c_str());
  }
  std::abort();
}

#define CHECK(cond, detail)                                      \
  do {                                                           \
    if (!(cond)) fail(__FILE__, __LINE__, #cond, (detail));      \
  } while (0)

std::string n(std::int64_t v) {
  return std::to_string(v);
}
std::string n128(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string s;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    s.insert(s.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  return neg ? "-" + s : s;
}

// Outcome of a call: "ok" or the SQLSTATE it raised. Anything but a
// LedgerError escaping the core is a failure in itself.
template <typename F>
std::string outcome(F&& f) {
  try {
    f();
    return "ok";
  } catch (const LedgerError& e) {
    CHECK(std::strlen(e.sqlstate()) == 5, std::string("malformed SQLSTATE ") + e.sqlstate());
    CHECK(e.what() != nullptr && *e.what() != '\0', "LedgerError without a message");
    return e.sqlstate();
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, "an exception other than LedgerError escaped the core", e.what());
  }
}

// ---------------------------------------------------------------- 1. validation

// Reference rules, written from the README's "Limits" table.
bool ref_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool ref_wallet_char(unsigned char c) {
  return ref_alnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}
bool ref_wallet_ok(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  if (s.front() == '/' || s.back() == '/') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '/') {
      if (s[i + 1] == '/') return false;  // empty segment (i + 1 < size: back() is not '/')
    } else if (!ref_wallet_char(c)) {
      return false;
    }
  }
  return true;
}
bool ref_unit_ok(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (unsigned char c : s)
    if (!(ref_alnum(c) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

void expect_valid(bool should_pass, const std::string& got, const std::string& what) {
  if (should_pass)
    CHECK(got == "ok", what + ": valid input refused with " + got);
  else
    CHECK(got == sqlstate::invalid_parameter_value, what + ": invalid input gave " + got);
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return "\"" + out + (s.size() > 80 ? "...\" (" + n(s.size()) + " bytes)" : "\"");
}

// A string that is often close to valid: segments of allowed characters with
// the occasional hostile byte, or the fuzzer's raw bytes.
std::string wallet_like(FuzzedDataProvider& fdp) {
  if (fdp.ConsumeBool()) return fdp.ConsumeRandomLengthString(260);
  static const char kAlphabet[] = "aZ09._:@-/";
  std::size_t len = fdp.ConsumeIntegralInRange<std::size_t>(0, 205);
  std::string s;
  for (std::size_t i = 0; i < len; ++i) {
    std::uint8_t pick = fdp.ConsumeIntegral<std::uint8_t>();
    s.push_back(pick < 250 ? kAlphabet[pick % 10] : static_cast<char>(pick));
  }
  return s;
}

void fuzz_validation(FuzzedDataProvider& fdp) {
  const std::string wallet = wallet_like(fdp);
  expect_valid(ref_wallet_ok(wallet), outcome([&] { validate_wallet_id(wallet); }),
               "wallet id " + printable(wallet));

  const std::string unit = fdp.ConsumeBool() ? fdp.ConsumeRandomLengthString(40)
                                             : std::string(fdp.ConsumeIntegralInRange(0, 34), 'u');
  expect_valid(ref_unit_ok(unit), outcome([&] { validate_unit(unit); }), "unit " + printable(unit));

  const std::size_t chars = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<std::size_t>(0, 300)
                                              : fdp.ConsumeIntegral<std::size_t>();
  expect_valid(chars >= 1 && chars <= 255, outcome([&] { validate_idempotency_key(chars); }),
               "key of " + std::to_string(chars) + " characters");

  const Amount amount = fdp.ConsumeIntegral<Amount>();
  expect_valid(amount > 0, outcome([&] { validate_positive_amount("amount", amount); }),
               "amount " + n(amount));
  expect_valid(amount >= 0, outcome([&] { validate_capture_amount(amount); }),
               "capture " + n(amount));

  const Micros ttl = fdp.ConsumeIntegral<Micros>();
  const Micros max_ttl = fdp.ConsumeIntegralInRange<Micros>(kSecond, kMaxTtlCeiling);
  expect_valid(ttl > 0 && ttl <= max_ttl, outcome([&] { validate_ttl(ttl, max_ttl); }),
               "ttl " + n(ttl) + " with max " + n(max_ttl));

  // Canonical jsonb text: an object starts with '{'; sizes around the limit.
  std::string meta;
  if (fdp.ConsumeBool()) {
    meta = fdp.ConsumeRandomLengthString(64);
  } else {
    std::size_t size = fdp.ConsumeIntegralInRange<std::size_t>(0, 8200);
    meta.assign(size, 'x');
    if (size > 0) meta[0] = fdp.ConsumeBool() ? '{' : '[';
  }
  expect_valid(!meta.empty() && meta[0] == '{' && meta.size() <= 8192,
               outcome([&] { validate_metadata(meta); }),
               "metadata of " + n(static_cast<std::int64_t>(meta.size())) + " bytes");

  const std::int64_t after = fdp.ConsumeIntegral<std::int64_t>();
  const std::int32_t rows = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange(-2, 10002)
                                              : fdp.ConsumeIntegral<std::int32_t>();
  expect_valid(after >= 0 && rows >= 1 && rows <= 10000,
               outcome([&] { validate_history_page(after, rows); }),
               "history page after " + n(after) + ", " + n(rows) + " rows");

  const std::int32_t batch = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange(-2, 1000002)
                                               : fdp.ConsumeIntegral<std::int32_t>();
  expect_valid(batch >= 1 && batch <= 1000000, outcome([&] { validate_expire_batch(batch); }),
               "expire batch " + n(batch));

  const std::string got = outcome([] { throw_null_argument("ttl"); });
  CHECK(got == sqlstate::null_value_not_allowed, "NULL argument gave " + got);
}

// ---------------------------------------------------------------- 2. arithmetic, views, names

void fuzz_arithmetic(FuzzedDataProvider& fdp) {
  const Amount a = fdp.ConsumeIntegral<Amount>();
  const Amount b = fdp.ConsumeIntegral<Amount>();
  for (int op = 0; op < 2; ++op) {
    const i128 exact = op == 0 ? i128(a) + b : i128(a) - b;
    const bool fits = exact >= kI64Min && exact <= kI64Max;
    Amount r = 0;
    const std::string got = outcome([&] { r = op == 0 ? checked_add(a, b) : checked_sub(a, b); });
    const std::string what = n(a) + (op == 0 ? " + " : " - ") + n(b);
    if (fits) {
      CHECK(got == "ok", what + " refused with " + got);
      CHECK(r == exact, what + " gave " + n(r) + ", exact " + n128(exact));
    } else {
      CHECK(got == sqlstate::numeric_value_out_of_range, what + " overflows but gave " + got);
    }
  }

  // balance_view over reachable projections: 0 <= lapsed <= reserved <= balance.
  WalletState w;
  w.balance = fdp.ConsumeIntegralInRange<Amount>(0, kI64Max);
  w.reserved = fdp.ConsumeIntegralInRange<Amount>(0, w.balance);
  w.active_reservations = fdp.ConsumeIntegralInRange<std::int64_t>(0, 1 << 30);
  const Amount lapsed = fdp.ConsumeIntegralInRange<Amount>(0, w.reserved);
  const std::int64_t lapsed_count = fdp.ConsumeIntegralInRange<std::int64_t>(0, w.active_reservations);
  BalanceView v;
  const std::string got = outcome([&] { v = balance_view(w, lapsed, lapsed_count); });
  CHECK(got == "ok", "balance_view refused a reachable projection: " + got);
  CHECK(v.balance == w.balance && v.reserved == w.reserved - lapsed &&
            v.available == w.balance - (w.reserved - lapsed) && v.available >= 0 &&
            v.active_reservations == w.active_reservations - lapsed_count,
        "balance_view of balance " + n(w.balance) + ", reserved " + n(w.reserved) + ", lapsed " +
            n(lapsed));

  // effective_state: only an active hold at or past its expiry reads as expired.
  Reservation r;
  r.state = static_cast<ReservationState>(fdp.ConsumeIntegralInRange(0, 3));
  r.expires_at = fdp.ConsumeIntegral<Micros>();
  const Micros now = fdp.ConsumeIntegral<Micros>();
  const ReservationState want =
      r.state == ReservationState::active && r.expires_at <= now ? ReservationState::expired
                                                                 : r.state;
  CHECK(effective_state(r, now) == want, "effective_state");

  // Names round-trip, and only the documented names parse.
  const std::string text = fdp.ConsumeRandomLengthString(16);
  if (auto k = parse_event_kind(text)) CHECK(text == to_string(*k), "event kind " + printable(text));
  if (auto s = parse_reservation_state(text))
    CHECK(text == to_string(*s), "state " + printable(text));
  for (int i = 0; i < 7; ++i)
    CHECK(parse_event_kind(to_string(static_cast<EventKind>(i))) == static_cast<EventKind>(i),
          "kind round trip");
  for (int i = 0; i < 4; ++i)
    CHECK(parse_reservation_state(to_string(static_cast<ReservationState>(i))) ==
              static_cast<ReservationState>(i),
          "state round trip");

  // A uuid prints as 8-4-4-4-12 lowercase hex that decodes to its bytes.
  Uuid id;
  for (auto& byte : id.bytes) byte = fdp.ConsumeIntegral<std::uint8_t>();
  const std::string s = to_string(id);
  CHECK(s.size() == 36, "uuid text " + s);
  std::size_t k = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      CHECK(s[i] == '-', "uuid text " + s);
      continue;
    }
    CHECK(std::isxdigit(static_cast<unsigned char>(s[i])) && !std::isupper(s[i]), "uuid " + s);
    if (k % 2 == 0) {
      unsigned v = 0;
      std::sscanf(s.substr(i, 2).c_str(), "%2x", &v);
      CHECK(v == id.bytes[k / 2], "uuid text " + s + " does not decode to its bytes");
    }
    ++k;
  }
}

// ---------------------------------------------------------------- 3. fingerprints, lock keys

Command some_command(FuzzedDataProvider& fdp) {
  Command c;
  c.kind = static_cast<EventKind>(fdp.ConsumeIntegralInRange(0, 6));
  c.amount = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<Amount>(-2, 300)
                               : fdp.ConsumeIntegral<Amount>();
  c.ttl = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<Micros>(0, 300)
                            : fdp.ConsumeIntegral<Micros>();
  if (fdp.ConsumeBool()) {
    Uuid id;
    for (auto& byte : id.bytes) byte = fdp.ConsumeIntegralInRange<std::uint8_t>(0, 2);
    c.reservation_id = id;
  }
  if (fdp.ConsumeBool()) c.metadata = fdp.ConsumeRandomLengthString(40);
  return c;
}

bool same_request(const Command& a, const Command& b) {
  return a.kind == b.kind && a.amount == b.amount && a.ttl == b.ttl &&
         a.reservation_id == b.reservation_id && a.metadata == b.metadata;
}

void fuzz_fingerprint(FuzzedDataProvider& fdp) {
  const Command a = some_command(fdp);
  Command b = a;
  switch (fdp.ConsumeIntegralInRange(0, 6)) {  // one field changed, or a fresh command
    case 0: b.kind = static_cast<EventKind>(fdp.ConsumeIntegralInRange(0, 6)); break;
    case 1: b.amount = fdp.ConsumeIntegral<Amount>(); break;
    case 2: b.ttl = fdp.ConsumeIntegral<Micros>(); break;
    case 3:
      if (b.reservation_id) {
        b.reservation_id->bytes[fdp.ConsumeIntegralInRange(0, 15)] ^=
            fdp.ConsumeIntegral<std::uint8_t>();
        if (fdp.ConsumeBool()) b.reservation_id.reset();
      } else {
        b.reservation_id = Uuid{};
      }
      break;
    case 4:
      if (fdp.ConsumeBool())
        b.metadata.reset();
      else
        b.metadata = fdp.ConsumeRandomLengthString(40);
      break;
    case 5: break;  // identical
    default: b = some_command(fdp); break;
  }
  const Fingerprint fa = fingerprint(a), fb = fingerprint(b);
  CHECK(fa == fingerprint(a), "fingerprint is not deterministic");
  // SHA-256 collisions aside, equal fingerprints mean equal requests: an
  // ambiguous encoding would let a different request replay an old result.
  CHECK(same_request(a, b) == (fa == fb),
        same_request(a, b) ? "equal requests, different fingerprints"
                           : "different requests share a fingerprint");

  const std::string w1 = fdp.ConsumeRandomLengthString(210);
  const std::string w2 = fdp.ConsumeRandomLengthString(210);
  const std::uint64_t k1 = wallet_lock_key(w1);
  CHECK(k1 == wallet_lock_key(w1), "lock key is not deterministic");
  // The documented derivation: the first 8 bytes of SHA-256("baseledger/wallet/" + id).
  const std::string prefixed = "baseledger/wallet/" + w1;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(prefixed.data()), prefixed.size(), digest);
  std::uint64_t want = 0;
  for (int i = 0; i < 8; ++i) want = (want << 8) | digest[i];
  CHECK(k1 == want, "lock key of " + printable(w1));
  if (w1 != w2) CHECK(k1 != wallet_lock_key(w2), "two wallets share a lock key");
}

// ---------------------------------------------------------------- 4. decide() and Replay

// One wallet kept the way src/pg keeps it: the projection row, the
// reservation rows and the event log, changed only by applying decisions.
struct Ledger {
  WalletState wallet;
  std::map<Uuid, Reservation> rows;
  std::vector<Event> log;
  std::vector<Uuid> ids;  // every reservation id handed out, in order
  Micros clock = 0;
  std::int64_t max_active = kI64Max;  // baseledger.max_active_reservations
  std::uint32_t next_id = 1;
  // Independent books: every credit, debit and capture, in 128 bits.
  i128 credits = 0, debits = 0, captured = 0;
};

Uuid fresh_id(Ledger& L, FuzzedDataProvider& fdp) {
  Uuid id;
  id.bytes[0] = fdp.ConsumeIntegral<std::uint8_t>();  // varies the (expires_at, id) order
  const std::uint32_t c = L.next_id++;
  id.bytes[12] = static_cast<std::uint8_t>(c >> 24);
  id.bytes[13] = static_cast<std::uint8_t>(c >> 16);
  id.bytes[14] = static_cast<std::uint8_t>(c >> 8);
  id.bytes[15] = static_cast<std::uint8_t>(c);
  id.bytes[6] = 0x40;
  return id;
}

Amount pick_amount(Ledger& L, FuzzedDataProvider& fdp, std::optional<Amount> hold) {
  const Amount avail = L.wallet.available();
  switch (fdp.ConsumeIntegralInRange(0, 11)) {
    case 0: return 1;
    case 1: return fdp.ConsumeIntegralInRange<Amount>(1, 1000);
    case 2: return avail;
    case 3: return avail == kI64Max ? avail : avail + 1;
    case 4: return avail > 0 ? avail - 1 : 0;
    case 5: return hold.value_or(7);
    case 6: return hold ? (*hold == kI64Max ? *hold : *hold + 1) : 8;
    case 7: return kI64Max;
    case 8: return kI64Max - L.wallet.balance;
    case 9: return L.wallet.balance > 0 ? kI64Max - L.wallet.balance + 1 : kI64Max;
    case 10: return fdp.ConsumeIntegral<Amount>();  // includes 0 and negatives
    default: return fdp.ConsumeIntegralInRange<Amount>(0, kI64Max);
  }
}

Micros pick_ttl(FuzzedDataProvider& fdp) {
  switch (fdp.ConsumeIntegralInRange(0, 7)) {
    case 0: return 1;
    case 1: return fdp.ConsumeIntegralInRange<Micros>(1, 5);
    case 2: return kSecond;
    case 3: return 86400 * kSecond;  // the default max_ttl
    case 4: return kMaxTtlCeiling;
    case 5: return fdp.ConsumeIntegralInRange<Micros>(1, 100);
    case 6: return fdp.ConsumeIntegral<Micros>();  // includes 0, negatives and huge values
    default: return fdp.ConsumeIntegralInRange<Micros>(1, 3600 * kSecond);
  }
}

Micros pick_clock(FuzzedDataProvider& fdp) {
  switch (fdp.ConsumeIntegralInRange(0, 4)) {
    case 0: return 0;
    case 1: return 830000000LL * kSecond;  // 2026, in PostgreSQL's epoch
    case 2: return kEndTimestamp - fdp.ConsumeIntegralInRange<Micros>(1, 100 * kSecond);
    case 3: return kMinTimestamp + fdp.ConsumeIntegralInRange<Micros>(0, 100 * kSecond);
    default: return fdp.ConsumeIntegralInRange<Micros>(kMinTimestamp, kEndTimestamp - 1);
  }
}

Micros step_clock(Micros clock, FuzzedDataProvider& fdp) {
  Micros d;
  switch (fdp.ConsumeIntegralInRange(0, 6)) {
    case 0: d = 0; break;
    case 1: d = fdp.ConsumeIntegralInRange<Micros>(1, 3); break;
    case 2: d = fdp.ConsumeIntegralInRange<Micros>(1, 100); break;
    case 3: d = fdp.ConsumeIntegralInRange<Micros>(1, 10 * kSecond); break;
    case 4: d = -fdp.ConsumeIntegralInRange<Micros>(1, 3600 * kSecond); break;  // steps back
    case 5: d = fdp.ConsumeIntegralInRange<Micros>(1, 2 * 86400 * kSecond); break;
    default: d = fdp.ConsumeIntegralInRange<Micros>(-10, 10); break;
  }
  const i128 next = i128(clock) + d;
  if (next < kMinTimestamp) return kMinTimestamp;
  if (next >= kEndTimestamp) return kEndTimestamp - 1;
  return static_cast<Micros>(next);
}

bool events_equal(const Event& a, const Event& b) {
  return a.seq == b.seq && a.kind == b.kind && a.amount == b.amount &&
         a.reservation_id == b.reservation_id && a.balance == b.balance &&
         a.reserved == b.reserved && a.expires_at == b.expires_at && a.at == b.at &&
         a.from_command == b.from_command;
}

// Which holds a call expires before its command, in (expires_at, id) order.
// The README: a hold is expired from the instant expires_at passes, and each
// expire event takes the next microsecond, so the command's time moves on as
// holds are closed: the call closes every hold lapsed by the time the next
// event would carry (a fixpoint).
std::vector<Reservation> expired_by_spec(const std::vector<Reservation>& sorted, Micros now) {
  std::vector<Reservation> out;
  Micros t = now;
  for (const Reservation& r : sorted) {
    if (r.expires_at > t) break;
    out.push_back(r);
    t += 1;
  }
  return out;
}

bool same_ids(const std::vector<Reservation>& a, const std::vector<Event>& events, std::size_t n) {
  if (a.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (events[i].kind != EventKind::expire || events[i].reservation_id != a[i].id) return false;
  return true;
}

// What the README says the outcome of a command is, given the holds the call
// expires first: judged at the time the command's event carries.
std::string oracle(const Ledger& L, const std::vector<Reservation>& expired, Micros now,
                   const Command& c) {
  const Micros t = now + static_cast<Micros>(expired.size());
  i128 reserved = 0;
  std::int64_t active = 0;
  const Amount balance = L.wallet.balance;
  for (const auto& [id, r] : L.rows) {
    if (r.state != ReservationState::active) continue;
    bool closed = false;
    for (const Reservation& e : expired) closed = closed || e.id == r.id;
    if (closed) continue;
    reserved += r.amount;
    ++active;
  }
  const i128 available = i128(balance) - reserved;
  auto target_check = [&]() -> std::string {
    auto it = L.rows.find(*c.reservation_id);
    if (it == L.rows.end()) return sqlstate::reservation_not_found;
    const Reservation& r = it->second;
    if (r.state == ReservationState::expired ||
        (r.state == ReservationState::active && r.expires_at <= t))
      return sqlstate::reservation_expired;
    if (r.state != ReservationState::active) return sqlstate::reservation_closed;
    return "ok";
  };
  switch (c.kind) {
    case EventKind::credit:
      return i128(balance) + c.amount > kI64Max ? sqlstate::numeric_value_out_of_range : "ok";
    case EventKind::debit:
      return c.amount > available ? sqlstate::insufficient_funds : "ok";
    case EventKind::reserve:
      if (active >= L.max_active) return "54000";  // baseledger.max_active_reservations
      if (c.amount > available) return sqlstate::insufficient_funds;
      return i128(t) + c.ttl > kI64Max ? sqlstate::numeric_value_out_of_range : "ok";
    case EventKind::settle: {
      std::string s = target_check();
      if (s != "ok") return s;
      return c.amount > L.rows.at(*c.reservation_id).amount ? sqlstate::capture_exceeds_hold
                                                            : "ok";
    }
    case EventKind::cancel: return target_check();
    case EventKind::extend: {
      std::string s = target_check();
      if (s != "ok") return s;
      return i128(t) + c.ttl > kI64Max ? sqlstate::numeric_value_out_of_range : "ok";
    }
    case EventKind::expire: return sqlstate::internal_error;
  }
  return "?";
}

// Checks a successful decision against the ledger it was made on, then applies it.
void apply_and_check(Ledger& L, const WriteInput& in, const Command* c, const Decision& d,
                     const std::vector<Reservation>& due_sorted) {
  const Micros now = next_event_time(L.wallet, in.clock);
  const std::size_t n_expire = c ? d.events.size() - 1 : d.events.size();
  CHECK(!c || !d.events.empty(), "a command wrote no event");
  CHECK(n_expire == due_sorted.size(),
        "expire events " + n(static_cast<std::int64_t>(n_expire)) + " for " +
            n(static_cast<std::int64_t>(due_sorted.size())) + " due holds");
  CHECK(d.reservations.size() == d.reservation_is_new.size(), "reservation_is_new not parallel");

  // Sequence and time.
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    const Event& e = d.events[i];
    CHECK(e.seq == L.wallet.last_seq + 1 + static_cast<std::int64_t>(i),
          "seq " + n(e.seq) + " after " + n(L.wallet.last_seq));
    if (i == 0) {
      CHECK(e.at == now, "first event at " + n(e.at) + ", expected " + n(now));
      CHECK(!L.wallet.last_at || e.at > *L.wallet.last_at, "time did not increase");
    } else {
      CHECK(e.at == d.events[i - 1].at + 1, "events of one call are not 1 us apart");
    }
    CHECK(e.at >= in.clock, "event before the clock");
    CHECK(e.from_command == (c != nullptr && i + 1 == d.events.size()), "from_command flag");
    CHECK(e.reserved >= 0, "reserved below zero at seq " + n(e.seq));
    CHECK(e.balance - e.reserved >= 0, "available below zero at seq " + n(e.seq) + ": balance " +
                                           n(e.balance) + ", reserved " + n(e.reserved));
  }

  // The expire events: the due holds, in (expires_at, id) order, each at or
  // after its expiry, releasing exactly what it held.
  for (std::size_t i = 0; i < n_expire; ++i) {
    const Event& e = d.events[i];
    const Reservation& r = due_sorted[i];
    CHECK(e.kind == EventKind::expire && e.reservation_id == r.id, "expire order");
    CHECK(e.amount == r.amount, "expire released " + n(e.amount) + " of " + n(r.amount));
    CHECK(r.expires_at <= e.at, "expired before its expires_at");
  }

  // Apply the reservation rows, checking each against its prior state.
  for (std::size_t i = 0; i < d.reservations.size(); ++i) {
    const Reservation& r = d.reservations[i];
    auto it = L.rows.find(r.id);
    CHECK(d.reservation_is_new[i] == (it == L.rows.end()), "new reservation flag");
    if (it != L.rows.end()) {
      const Reservation& old = it->second;
      CHECK(old.state == ReservationState::active, "a closed reservation was written again");
      CHECK(r.amount == old.amount && r.created_at == old.created_at, "hold changed");
    }
    L.rows[r.id] = r;
  }

  if (c) {
    const Event& e = d.events.back();
    CHECK(e.kind == c->kind, "command event kind");
    switch (c->kind) {
      case EventKind::credit: L.credits += c->amount; break;
      case EventKind::debit: L.debits += c->amount; break;
      case EventKind::reserve: {
        CHECK(e.reservation_id == in.new_reservation_id, "reserve used another id");
        const Reservation& r = L.rows.at(in.new_reservation_id);
        CHECK(r.amount == c->amount && r.state == ReservationState::active &&
                  r.expires_at == e.at + c->ttl && e.expires_at == r.expires_at &&
                  r.created_at == e.at,
              "reservation row of a reserve");
        L.ids.push_back(in.new_reservation_id);
        break;
      }
      case EventKind::settle:
      case EventKind::cancel:
      case EventKind::extend: {
        CHECK(in.target && in.target->state == ReservationState::active,
              "acted on a reservation that was not active");
        CHECK(in.target->expires_at > e.at, "acted on a hold that had lapsed at the event's time");
        const Reservation& r = L.rows.at(*c->reservation_id);
        if (c->kind == EventKind::settle) {
          CHECK(c->amount <= in.target->amount, "captured more than the hold");
          CHECK(r.state == ReservationState::settled && r.captured == c->amount, "settle row");
          CHECK(e.amount == c->amount, "settle event amount");
          L.captured += c->amount;
        } else if (c->kind == EventKind::cancel) {
          CHECK(r.state == ReservationState::cancelled && e.amount == in.target->amount,
                "cancel row or event");
        } else {
          CHECK(r.state == ReservationState::active && r.expires_at == e.at + c->ttl &&
                    e.amount == 0 && e.expires_at == r.expires_at,
                "extend row or event");
        }
        break;
      }
      case EventKind::expire: break;
    }
  }

  L.log.insert(L.log.end(), d.events.begin(), d.events.end());
  L.wallet = d.wallet;

  // The projection equals the independent books.
  i128 reserved = 0;
  std::int64_t active = 0;
  for (const auto& [id, r] : L.rows)
    if (r.state == ReservationState::active) {
      reserved += r.amount;
      ++active;
    }
  const i128 balance = L.credits - L.debits - L.captured;
  CHECK(L.wallet.balance == balance,
        "balance " + n(L.wallet.balance) + ", books say " + n128(balance));
  CHECK(L.wallet.reserved == reserved,
        "reserved " + n(L.wallet.reserved) + ", open holds sum to " + n128(reserved));
  CHECK(L.wallet.active_reservations == active, "active_reservations");
  CHECK(L.wallet.available() >= 0, "available below zero");
  CHECK(L.wallet.last_seq == static_cast<std::int64_t>(L.log.size()), "last_seq");
  CHECK(L.log.empty() || L.wallet.last_at == L.log.back().at, "last_at");
  if (!L.log.empty())
    CHECK(L.log.back().balance == L.wallet.balance && L.log.back().reserved == L.wallet.reserved,
          "last event's snapshot differs from the projection");
}

// Runs one write (or a sweep when c is null) the way src/pg's execute_write
// and ledger_expire do: the due holds, the target row, a fresh id, then decide().
void write(Ledger& L, FuzzedDataProvider& fdp, const Command* c, std::int64_t sweep_limit) {
  WriteInput in;
  in.wallet = L.wallet;
  in.clock = L.clock;
  in.max_active_reservations = L.max_active;
  const Micros now = next_event_time(L.wallet, L.clock);
  // The storage hands a write every active hold that may lapse during the
  // call (a superset does no harm: decide() closes only the lapsed ones), and
  // a sweep the earliest holds lapsed at its time, at most its batch size.
  std::vector<Reservation> due;
  for (const auto& [id, r] : L.rows)
    if (r.state == ReservationState::active && (c || r.expires_at <= now)) due.push_back(r);
  std::sort(due.begin(), due.end(), [](const Reservation& a, const Reservation& b) {
    return a.expires_at != b.expires_at ? a.expires_at < b.expires_at : a.id < b.id;
  });
  if (!c && static_cast<std::int64_t>(due.size()) > sweep_limit) due.resize(sweep_limit);
  in.due = due;
  if (fdp.ConsumeBool()) std::reverse(in.due.begin(), in.due.end());  // storage order is free
  if (c && c->reservation_id) {
    auto it = L.rows.find(*c->reservation_id);
    if (it != L.rows.end()) in.target = it->second;
  }
  in.new_reservation_id = fresh_id(L, fdp);

  const std::vector<Reservation> spec = expired_by_spec(due, now);
  const std::string want = c ? oracle(L, spec, now, *c) : "ok";
  Decision d;
  const std::string got = outcome([&] { d = decide(in, c); });
  trace("  -> %s (oracle: %s)", got.c_str(), want.c_str());
  CHECK(got == "ok" || got == sqlstate::insufficient_funds || got == sqlstate::wallet_not_found ||
            got == sqlstate::reservation_not_found || got == sqlstate::reservation_closed ||
            got == sqlstate::reservation_expired || got == sqlstate::capture_exceeds_hold ||
            got == sqlstate::numeric_value_out_of_range ||
            (got == "54000" && c && c->kind == EventKind::reserve) ||
            (got == sqlstate::internal_error && c && c->kind == EventKind::expire),
        "decide raised undocumented SQLSTATE " + got);

  // Which holds did the call expire? Its expire events say, on success.
  const std::vector<Reservation>* expired = &spec;
  if (got == "ok") {
    const std::size_t n_expire = c ? d.events.size() - 1 : d.events.size();
    CHECK(same_ids(*expired, d.events, n_expire),
          "the call expired " + n(static_cast<std::int64_t>(n_expire)) + " holds; " +
              n(static_cast<std::int64_t>(spec.size())) + " had lapsed by its events' times");
  }
  CHECK(got == want, "decide gave " + got + " where the semantics give " + want);
  if (got != "ok") return;  // a refused call leaves no trace: the ledger is unchanged

  // decide() is a function: the same input gives the same decision.
  const Decision again = decide(in, c);
  CHECK(again.events.size() == d.events.size(), "decide is not deterministic");
  for (std::size_t i = 0; i < d.events.size(); ++i)
    CHECK(events_equal(d.events[i], again.events[i]), "decide is not deterministic");

  apply_and_check(L, in, c, d, *expired);
}

// Replays the log: a history written by decide() replays without a problem,
// and a tampered copy of it never replays cleanly.
void check_replay(const Ledger& L, FuzzedDataProvider& fdp) {
  std::vector<Reservation> stored;
  for (const auto& [id, r] : L.rows) stored.push_back(r);
  {
    Replay replay;
    for (const Event& e : L.log) replay.apply(e);
    replay.finish(L.wallet, stored);
    if (!replay.problems().empty()) {
      std::string all;
      for (const std::string& p : replay.problems()) all += "\n       " + p;
      fail(__FILE__, __LINE__, "Replay found problems in a history written by decide()", all);
    }
  }
  if (L.log.empty()) return;

  std::vector<Event> log = L.log;
  const std::size_t i = fdp.ConsumeIntegralInRange<std::size_t>(0, log.size() - 1);
  Event& e = log[i];
  const char* how = "";
  switch (fdp.ConsumeIntegralInRange(0, 5)) {
    case 0: e.balance ^= 1; how = "balance ^ 1"; break;
    case 1: e.reserved ^= 1; how = "reserved ^ 1"; break;
    case 2:
      if (e.kind == EventKind::extend) return;  // an extend's amount carries no money
      e.amount ^= 1;
      how = "amount ^ 1";
      break;
    case 3: log.erase(log.begin() + static_cast<std::ptrdiff_t>(i)); how = "event dropped"; break;
    case 4:
      if (i == 0) return;
      e.at = log[i - 1].at;
      how = "time repeated";
      break;
    default: e.seq ^= 1; how = "seq ^ 1"; break;
  }
  Replay replay;
  for (const Event& x : log) replay.apply(x);
  replay.finish(L.wallet, stored);
  CHECK(!replay.problems().empty(),
        std::string("Replay missed a tampered event (") + how + ") at index " +
            n(static_cast<std::int64_t>(i)));
}

void fuzz_ledger(FuzzedDataProvider& fdp) {
  Ledger L;
  L.clock = pick_clock(fdp);
  if (fdp.ConsumeIntegralInRange(0, 3) == 0) L.max_active = fdp.ConsumeIntegralInRange(1, 3);
  trace("clock %lld", static_cast<long long>(L.clock));
  const int steps = fdp.ConsumeIntegralInRange(1, 48);
  for (int s = 0; s < steps && fdp.remaining_bytes() > 0; ++s) {
    const int op = fdp.ConsumeIntegralInRange(0, 8);
    if (op == 0) {
      L.clock = step_clock(L.clock, fdp);
      trace("clock -> %lld", static_cast<long long>(L.clock));
      continue;
    }
    if (op == 8) {  // ledger_expire(): a sweep, possibly cut short by max_rows
      const std::int64_t limit = fdp.ConsumeIntegralInRange<std::int64_t>(1, 4);
      trace("sweep (limit %lld)", static_cast<long long>(limit));
      write(L, fdp, nullptr, limit);
      continue;
    }
    Command c;
    c.kind = static_cast<EventKind>(op - 1);  // credit..extend, and expire (op 7)
    std::optional<Amount> hold;
    if (c.kind == EventKind::settle || c.kind == EventKind::cancel ||
        c.kind == EventKind::extend) {
      if (!L.ids.empty() && fdp.ConsumeIntegralInRange(0, 7) != 0) {
        c.reservation_id = L.ids[fdp.ConsumeIntegralInRange<std::size_t>(0, L.ids.size() - 1)];
        hold = L.rows.at(*c.reservation_id).amount;
      } else {
        Uuid unknown;
        for (auto& byte : unknown.bytes) byte = fdp.ConsumeIntegral<std::uint8_t>();
        unknown.bytes[0] |= 0x80;  // fresh_id never sets ids with bytes 12..15 like these
        unknown.bytes[15] = 0xff;
        unknown.bytes[14] = 0xff;
        c.reservation_id = unknown;
      }
    }
    if (c.kind != EventKind::cancel && c.kind != EventKind::extend)
      c.amount = pick_amount(L, fdp, hold);
    if (c.kind == EventKind::reserve || c.kind == EventKind::extend) c.ttl = pick_ttl(fdp);
    if (fdp.ConsumeIntegralInRange(0, 3) == 0) c.metadata = "{\"k\": 1}";
    trace("%s amount %lld ttl %lld%s%s", to_string(c.kind), static_cast<long long>(c.amount),
          static_cast<long long>(c.ttl), c.reservation_id ? " reservation " : "",
          c.reservation_id ? to_string(*c.reservation_id).c_str() : "");

    // The SQL layer validates before it decides; only valid commands reach decide().
    std::string valid = "ok";
    if (c.kind == EventKind::credit || c.kind == EventKind::debit || c.kind == EventKind::reserve)
      valid = outcome([&] { validate_positive_amount("amount", c.amount); });
    else if (c.kind == EventKind::settle)
      valid = outcome([&] { validate_capture_amount(c.amount); });
    if (valid == "ok" && (c.kind == EventKind::reserve || c.kind == EventKind::extend))
      valid = outcome([&] { validate_ttl(c.ttl, kMaxTtlCeiling); });
    if (valid != "ok") {
      CHECK(valid == sqlstate::invalid_parameter_value, "validation gave " + valid);
      trace("  -> %s (validation)", valid.c_str());
      continue;
    }
    write(L, fdp, &c, 0);
  }
  check_replay(L, fdp);
}

// ---------------------------------------------------------------- 5. Replay of any rows

// ledger_verify replays whatever ledger.events holds, and INSERT into it is
// allowed: Replay must digest any values without undefined behaviour, and
// flag every event whose snapshot shows available below zero.
Event any_event(FuzzedDataProvider& fdp, const std::vector<Uuid>& ids, std::int64_t seq) {
  auto extreme = [&]() -> std::int64_t {
    switch (fdp.ConsumeIntegralInRange(0, 5)) {
      case 0: return 0;
      case 1: return kI64Max;
      case 2: return kI64Min;
      case 3: return fdp.ConsumeIntegralInRange<std::int64_t>(-3, 3);
      case 4: return fdp.ConsumeIntegralInRange<std::int64_t>(0, 1000);
      default: return fdp.ConsumeIntegral<std::int64_t>();
    }
  };
  Event e;
  e.seq = seq;
  e.kind = static_cast<EventKind>(fdp.ConsumeIntegralInRange(0, 6));
  e.amount = extreme();
  if (fdp.ConsumeIntegralInRange(0, 4) != 0 && !ids.empty())
    e.reservation_id = ids[fdp.ConsumeIntegralInRange<std::size_t>(0, ids.size() - 1)];
  e.balance = extreme();
  e.reserved = extreme();
  if (fdp.ConsumeBool()) e.expires_at = extreme();
  e.at = extreme();
  return e;
}

void fuzz_replay_rows(FuzzedDataProvider& fdp) {
  std::vector<Uuid> ids(3);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i].bytes[15] = static_cast<std::uint8_t>(i);
  std::vector<Event> log;
  // The rows come in seq order and seq is unique per wallet (the primary
  // key), so seq strictly increases; gaps and a start other than 1 are allowed.
  const int count = fdp.ConsumeIntegralInRange(0, 12);
  std::int64_t seq = fdp.ConsumeBool() ? 1 : fdp.ConsumeIntegral<std::int64_t>();
  for (int i = 0; i < count; ++i) {
    log.push_back(any_event(fdp, ids, seq));
    if (seq == kI64Max) break;
    const std::uint64_t room = static_cast<std::uint64_t>(kI64Max) - static_cast<std::uint64_t>(seq);
    const std::uint64_t step = fdp.ConsumeBool() ? 1 : fdp.ConsumeIntegralInRange<std::uint64_t>(1, room);
    seq = static_cast<std::int64_t>(static_cast<std::uint64_t>(seq) + step);
  }
  WalletState stored;
  stored.balance = fdp.ConsumeIntegral<Amount>();
  stored.reserved = fdp.ConsumeIntegral<Amount>();
  stored.active_reservations = fdp.ConsumeIntegral<std::int32_t>();
  stored.last_seq = fdp.ConsumeIntegral<std::int64_t>();
  if (fdp.ConsumeBool()) stored.last_at = fdp.ConsumeIntegral<Micros>();
  std::vector<Reservation> rows;
  for (const Uuid& id : ids)
    if (fdp.ConsumeBool()) {
      Reservation r;
      r.id = id;
      r.amount = fdp.ConsumeIntegral<Amount>();
      r.captured = fdp.ConsumeIntegral<Amount>();
      r.state = static_cast<ReservationState>(fdp.ConsumeIntegralInRange(0, 3));
      r.expires_at = fdp.ConsumeIntegral<Micros>();
      rows.push_back(r);
    }
  Replay replay;
  for (const Event& e : log) replay.apply(e);
  replay.finish(stored, rows);
  for (const Event& e : log) {
    const i128 available = i128(e.balance) - e.reserved;
    if (available < 0) {
      const std::string tag = "seq " + n(e.seq) + " (";
      bool flagged = false;
      for (const std::string& p : replay.problems())
        flagged = flagged || (p.rfind(tag, 0) == 0 && p.find("available went below zero") !=
                                                          std::string::npos);
      CHECK(flagged, "an event with balance " + n(e.balance) + " and reserved " + n(e.reserved) +
                         " was not flagged as available below zero");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> steps;
  g_trace = &steps;
  FuzzedDataProvider fdp(data, size);
  switch (fdp.ConsumeIntegralInRange(0, 7)) {
    case 0: fuzz_validation(fdp); break;
    case 1: fuzz_arithmetic(fdp); break;
    case 2: fuzz_fingerprint(fdp); break;
    case 3: fuzz_replay_rows(fdp); break;
    default: fuzz_ledger(fdp); break;  // half of the inputs: the state machine
  }
  g_trace = nullptr;
  return 0;
}
