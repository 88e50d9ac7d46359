// Building one-dimensional SQL arrays from C++ values, for statements that
// take many rows at once.
#pragma once

#include <cstddef>
#include <optional>

#include "pg/error_wall.hpp"
#include "pg/postgres_headers.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace baseledger::pg {

// A one-dimensional array under construction, in palloc'd memory.
class ArrayColumn {
 public:
  ArrayColumn(Oid type, std::size_t n) : type_(type), n_(n) {
    pg_try([&] {
      get_typlenbyvalalign(type, &typlen_, &byval_, &align_);
      values_ = static_cast<Datum*>(palloc0(sizeof(Datum) * (n ? n : 1)));
      nulls_ = static_cast<bool*>(palloc0(sizeof(bool) * (n ? n : 1)));
    });
  }
  void set(std::size_t i, Datum d) { values_[i] = d; }
  void set_null(std::size_t i) { nulls_[i] = true; }
  template <typename T>
  void set_optional(std::size_t i, const std::optional<T>& v, Datum (*to_datum)(const T&)) {
    if (v)
      set(i, to_datum(*v));
    else
      set_null(i);
  }
  Datum build() const {
    return pg_call([&] {
      int dims[1] = {static_cast<int>(n_)};
      int lbs[1] = {1};
      return PointerGetDatum(
          construct_md_array(values_, nulls_, 1, dims, lbs, type_, typlen_, byval_, align_));
    });
  }

 private:
  Oid type_;
  std::size_t n_;
  int16 typlen_ = 0;
  bool byval_ = false;
  char align_ = 'i';
  Datum* values_ = nullptr;
  bool* nulls_ = nullptr;
};

}  // namespace baseledger::pg
