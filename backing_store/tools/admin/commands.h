// SPDX-License-Identifier: GPL-2.0-only
// The commands of tgtpmem-admin. Each returns the process exit status (ExitCode) and
// writes its report to out (stdout) and diagnostics and progress to err (stderr).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layout.h"

namespace tgt_pmem::admin {

// Documented in --help and tgtpmem-admin(8); scripts rely on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // check: bs_pmem would refuse the store, or it has bad blocks
  kExitUsage = 2,        // invalid command line (unknown option, bad value, missing argument)
  kExitCannotUse = 3,    // the path is missing, unreadable, not a file or devdax device,
                         // cannot be mapped, or an I/O error happened
  kExitRefused = 4,      // create: the store holds data (see --force), or a devdax device
                         // has another size than --size; mirror-format: the store holds
                         // mirror metadata (see --force) or is too small
};

struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;  // progress as a bar rather than lines
};

struct CreateArgs {
  std::string path;
  std::optional<std::uint64_t> size;  // required for a new file
  std::uint32_t block_size = 512;
  std::string layout = "raw";
  bool force = false;
  bool zero = false;
  bool json = false;
};

struct InfoArgs {
  std::string path;
  bool json = false;
};

struct ForgetArgs {
  std::string path;
};

struct CheckArgs {
  std::string path;
  std::optional<std::uint32_t> block_size;  // default: the recorded one, else 512
  bool json = false;
};

// Writes "tgtpmem-admin: MESSAGE" to io.err and returns code: every command's refusal.
int fail(Io& io, int code, const std::string& message);

[[nodiscard]] int run_create(const CreateArgs& args, Io& io);
[[nodiscard]] int run_info(const InfoArgs& args, Io& io);
[[nodiscard]] int run_check(const CheckArgs& args, Io& io);
// Drops bs_pmem's record of a raw store (block size, identity): kExitOk, also when there was
// none (said so); kExitCannotUse if it could not be removed.
[[nodiscard]] int run_forget(const ForgetArgs& args, Io& io);

// What `check` finds about one store, for run_check and check-config: every finding, the
// block size checked (the requested one, else the one the layout records, else 512), and
// what the store turned out to be where it could be opened and mapped.
struct StoreCheck {
  std::vector<Finding> findings;
  std::uint32_t block_size = 512;
  bool opened = false;                    // false: missing, wrong type or unreadable
  bool ok = false;                        // no finding failed
  std::string medium;                     // "devdax" or "file", when opened
  std::string layout;                     // the detected layout's name, when mapped
  std::optional<flush::Method> method;    // the durability method, when mapped
};
[[nodiscard]] StoreCheck check_store(const std::string& path,
                                     std::optional<std::uint32_t> block_size);
// What bs_pmem's layout=atomic does with a store that has no layout header yet, when a LUN
// opens it with this block size (atomic_layout.cc): it formats one whose metadata area reads
// as zeros, and refuses one with data there, or with more allocated data there than it may
// read while opening (bs::kOpenScanBudget). The same scan as bs_pmem's (zero_scan.h): holes
// are not read. Read-only; ask only when it matters.
enum class AtomicOpen { kHasHeader, kFormats, kRefusedData, kRefusedTooMuchData };
[[nodiscard]] std::expected<AtomicOpen, std::string> atomic_open_outcome(const std::string& path,
                                                                       std::uint32_t block_size);
[[nodiscard]] const char* verdict_name(Finding::Verdict v) noexcept;
// The findings as a JSON array of {name, result, detail}: check's and check-config's "checks".
[[nodiscard]] nlohmann::ordered_json findings_json(const std::vector<Finding>& findings);
// A --json document as the tools write it: compact, on one line, keys in the order they were
// set. Text that is not UTF-8 (a path may be any bytes) comes out with U+FFFD in place of the
// bad bytes rather than failing the command.
[[nodiscard]] std::string json_line(const nlohmann::ordered_json& document);

}  // namespace tgt_pmem::admin
