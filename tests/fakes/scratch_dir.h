// SPDX-License-Identifier: GPL-2.0-only
// A unit test's scratch directory: made fresh under $TMPDIR (or /tmp) and removed, with
// whatever the test left in it, when the ScratchDir goes.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace tgt_pmem::testing {

class ScratchDir {
 public:
  // prefix names the directory (prefix.XXXXXX, mkdtemp(3)'s unique suffix).
  explicit ScratchDir(std::string_view prefix) {
    std::error_code ec;
    auto tmpl = (std::filesystem::temp_directory_path(ec) / prefix).string() + ".XXXXXX";
    if (!ec && ::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Empty when the directory could not be made.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // path()/name (nothing is created).
  [[nodiscard]] std::string file(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

 private:
  std::string path_;
};

}  // namespace tgt_pmem::testing
