// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/tgt_abi/check.h"

#include <chrono>
#include <string>

#include "tgt_pmem/tgt_abi/probe.h"
#include "tgt_pmem/tgt_abi/release.h"

namespace {
// tgtd -V answers in about a millisecond; the deadline only bounds a hung or odd executable.
constexpr std::chrono::milliseconds kProbeTimeout{5000};
}  // namespace

extern "C" const char* tgtpmem_tgt_abi_refusal(const char* module, const char* built_for) noexcept {
  static std::string message;
  try {
    const auto probe = tgt_pmem::tgt_abi::tgtd_version("/proc/self/exe", kProbeTimeout);
    const auto why = tgt_pmem::tgt_abi::refusal(module ? module : "?", built_for ? built_for : "",
                                                probe);
    if (!why) return nullptr;
    message = *why;
    return message.c_str();
  } catch (...) {
    return "tgt-pmem: not registered: the tgt release check failed (out of memory)";
  }
}
