// Names of event kinds and reservation states, as they appear in SQL.
#include "core/types.hpp"

#include <cstdio>

namespace baseledger::core {

namespace {
constexpr const char* kEventKindNames[] = {"credit", "debit",  "reserve", "settle",
                                           "cancel", "extend", "expire"};
constexpr const char* kStateNames[] = {"active", "settled", "cancelled", "expired"};
constexpr const char* kPeriodNames[] = {"minute", "hour", "day", "week", "month"};
}  // namespace

const char* to_string(EventKind kind) noexcept {
  return kEventKindNames[static_cast<int>(kind)];
}

const char* to_string(ReservationState state) noexcept {
  return kStateNames[static_cast<int>(state)];
}

std::optional<EventKind> parse_event_kind(std::string_view text) noexcept {
  for (int i = 0; i < 7; ++i)
    if (text == kEventKindNames[i]) return static_cast<EventKind>(i);
  return std::nullopt;
}

std::optional<ReservationState> parse_reservation_state(std::string_view text) noexcept {
  for (int i = 0; i < 4; ++i)
    if (text == kStateNames[i]) return static_cast<ReservationState>(i);
  return std::nullopt;
}

const char* to_string(Period period) noexcept {
  return kPeriodNames[static_cast<int>(period)];
}

std::optional<Period> parse_period(std::string_view text) noexcept {
  for (int i = 0; i < 5; ++i)
    if (text == kPeriodNames[i]) return static_cast<Period>(i);
  return std::nullopt;
}

std::string to_string(const Uuid& id) {
  char out[37];
  const auto& b = id.bytes;
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

}  // namespace baseledger::core
