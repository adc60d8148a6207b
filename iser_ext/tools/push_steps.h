// SPDX-License-Identifier: GPL-2.0-only
// The step language of tgtpmem-push: one session scripted on the command line, each step a
// word of colon-separated fields, run in order on one connection (see the man page,
// packaging/man/tgtpmem-push.1.scd). Pure functions: parsing, the data pattern, and the
// handle file that carries a region's (addr, rkey, length) to another connection.
//
//   register:OFFSET:LENGTH:r|w|rw           the k-th register step names its region h<k-1>
//   write:hN:OFFSET:pattern:SEED:LEN        write:hN:OFFSET:file:PATH
//   write-flush:hN:OFFSET:pattern:SEED:LEN  write-flush:hN:OFFSET:file:PATH  (write, then the
//                                           one-sided flush of --remote-flush, no COMMIT)
//   read:hN:OFFSET:LEN:verify-pattern:SEED  read:hN:OFFSET:LEN:out:PATH
//   commit:hN   commit:hN:OFFSET:LEN        raf:hN:OFFSET:LEN
//   unregister:hN   save-handle:hN:PATH     write-raw:PATH:OFFSET:pattern:SEED:LEN
//   sleep:SECONDS
// Any step may end in ":expect=refused" (it must fail) or ":expect=ok" (the default).
// Sizes and offsets take k, m, g, t suffixes (binary). A PATH is the rest of the word, so
// it may contain ':' (except when it ends in ":expect=...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push::tool {

enum class StepKind : std::uint8_t {
  kRegister,
  kWrite,
  kWriteFlush,  // write-flush: Client::write_and_flush()
  kRead,
  kCommit,
  kReadAfterWrite,  // raf
  kUnregister,
  kSaveHandle,
  kWriteRaw,
  kSleep,
};

struct Step {
  StepKind kind = StepKind::kSleep;
  std::string text;             // the step as given, for the report
  bool expect_refused = false;  // ":expect=refused"
  std::size_t handle = 0;       // hN: N
  std::uint64_t offset = 0;     // into the LUN (register), the region, or the raw handle
  std::uint64_t length = 0;     // register, read, commit, raf, pattern data
  std::uint8_t access = 0;      // register: push::kRead | push::kWrite
  bool whole_region = false;    // commit without a range
  bool use_file = false;        // write: data from path; read: data to path
  std::uint64_t seed = 0;       // pattern, verify-pattern
  std::string path;             // write/read file, save-handle, write-raw handle file
  double seconds = 0;           // sleep
};

// One step; the error names the step and what is wrong with it.
[[nodiscard]] std::expected<Step, std::string> parse_step(std::string_view text);

// The pattern: byte i of the data a step with SEED writes is a function of (SEED, i) alone,
// i counted from the step's first byte; a read with verify-pattern:SEED expects it from its
// own first byte on, so a read must start where the write did.
void fill_pattern(std::uint64_t seed, std::span<std::byte> out) noexcept;
// The index of the first byte that differs from the pattern, or nullopt.
[[nodiscard]] std::optional<std::size_t> first_pattern_mismatch(
    std::uint64_t seed, std::span<const std::byte> data) noexcept;

// The handle file: one line "addr=0x7f0012340000 rkey=0x1234abcd length=2097152".
[[nodiscard]] std::string format_handle(const RemoteRegion& remote);
[[nodiscard]] std::expected<RemoteRegion, std::string> parse_handle(std::string_view text);

}  // namespace tgt_pmem::push::tool
