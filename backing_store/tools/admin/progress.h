// SPDX-License-Identifier: GPL-2.0-only
// Progress of a long sweep (create --zero): a bar redrawn in place on a terminal, plain
// lines at every 10% otherwise (logs, pipes, CI).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace tgt_pmem::admin {

class Progress {
 public:
  Progress(std::ostream& out, bool terminal, std::string label, std::uint64_t total);
  void update(std::uint64_t done);
  void finish();  // 100%, and a newline after a bar

 private:
  std::ostream& out_;
  bool terminal_;
  std::string label_;
  std::uint64_t total_;
  int last_percent_ = -1;
  bool finished_ = false;
};

}  // namespace tgt_pmem::admin
