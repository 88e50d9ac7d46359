// Documented bounds on what a caller may pass in (see README, "Limits").
#pragma once

#include <cstddef>
#include <cstdint>

namespace baseledger::core::limits {

inline constexpr std::size_t wallet_id_max_chars = 200;
inline constexpr std::size_t wallet_depth_max = 8;  // segments of a wallet path
inline constexpr std::size_t idempotency_key_max_chars = 255;
inline constexpr std::size_t metadata_max_bytes = 8192;  // canonical JSON text
inline constexpr std::int32_t history_max_rows = 10000;
inline constexpr std::int32_t expire_max_rows = 1000000;
inline constexpr int batch_max_elements = 10000;

}  // namespace baseledger::core::limits
