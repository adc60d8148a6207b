// SPDX-License-Identifier: GPL-2.0-only
// A minimal JSON writer for --json output: one object, written in order, no DOM.
#pragma once

#include "tgt_pmem/text/json_quote.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace tgt_pmem::admin {

// Returns text as a JSON string literal, quotes included.
using text::json_quote;

class JsonWriter {
 public:
  // Containers. Inside an object every value needs a key first (key()).
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(std::uint64_t number);
  JsonWriter& boolean(bool flag);  // not an overload of value(): 32-bit numbers would be ambiguous
  JsonWriter& null();

  // The document so far, with a trailing newline once the outermost container is closed.
  [[nodiscard]] const std::string& str() const noexcept { return out_; }

 private:
  void separate();
  std::string out_;
  bool need_comma_ = false;
  bool after_key_ = false;
  int depth_ = 0;
};

}  // namespace tgt_pmem::admin
