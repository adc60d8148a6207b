// SPDX-License-Identifier: GPL-2.0-only
#include "progress.h"

#include "size.h"

namespace tgt_pmem::admin {

Progress::Progress(std::ostream& out, bool terminal, std::string label, std::uint64_t total)
    : out_(out), terminal_(terminal), label_(std::move(label)), total_(total) {}

void Progress::update(std::uint64_t done) {
  const int percent = total_ == 0 ? 100 : static_cast<int>(done * 100 / total_);
  if (terminal_) {
    if (percent == last_percent_) return;
    constexpr int kWidth = 40;
    const int filled = percent * kWidth / 100;
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < kWidth) bar += '>';
    bar.resize(kWidth, ' ');
    out_ << '\r' << label_ << " [" << bar << "] " << (percent < 10 ? "  " : percent < 100 ? " " : "")
         << percent << "%  " << format_size(done) << " / " << format_size(total_) << "\x1b[K"
         << std::flush;
  } else {
    const int step = percent / 10 * 10;  // one line per 10%
    if (step <= last_percent_) return;
    out_ << label_ << ": " << step << "% (" << format_size(done) << " of " << format_size(total_)
         << ")\n"
         << std::flush;
    last_percent_ = step;
    return;
  }
  last_percent_ = percent;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  update(total_);
  if (terminal_) out_ << '\n' << std::flush;
}

}  // namespace tgt_pmem::admin
