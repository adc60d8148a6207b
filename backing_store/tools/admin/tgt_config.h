// SPDX-License-Identifier: GPL-2.0-only
// The logical units a tgt-admin configuration (/etc/tgt/targets.conf and what it includes)
// asks for, read the way tgt-admin reads it: Perl's Config::General with Apache-style
// `include` (globs and directories), duplicate blocks merged. What that parser does, and
// what tgt-admin then makes of it, was established by running Config::General 2.65 (Debian
// 12) on sample files and by reading tgt-admin 1.0.85; the unit tests pin each rule:
//   - '#' starts a comment anywhere on a line (even inside a word), unless escaped as '\#';
//     a line ending in '\' continues on the next;
//   - a value in double quotes loses them; single quotes stay (tgt-admin hands the value to
//     a shell, where they protect a bsopts ';');
//   - `key value` and `key = value` are the same;
//   - blocks <target NAME> ... </target> and, inside, <backing-store PATH> ... </backing-store>
//     with the same name are merged; a key given twice in one (merged) block becomes a list,
//     which tgt-admin refuses for bs-type, bsopts, block-size and lun;
//   - a target's bs-type and bsopts apply to its LUNs that do not set their own; block-size
//     only counts inside <backing-store>;
//   - a target with both `backing-store PATH` lines and <backing-store> blocks makes
//     tgt-admin stop ("Your config file is not supported").
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tgt_pmem::admin {

// Where something was written: file and 1-based line.
struct ConfigPlace {
  std::string file;
  int line = 0;
};

struct ConfiguredLun {
  ConfigPlace place;                      // where the backing store is named
  std::string target;
  std::string path;
  std::string bs_type;                    // the store's, else the target's; "" for tgt's default
  std::optional<std::string> bsopts;      // the store's, else the target's, as tgt-admin passes it
  std::optional<std::string> block_size;  // the store's block-size
  std::optional<std::string> lun;
};

struct ConfigProblem {
  ConfigPlace place;
  std::string message;
};

struct TgtConfig {
  std::vector<std::string> files;       // every file read, in order
  std::vector<ConfiguredLun> luns;      // in the order of the files
  std::vector<ConfigProblem> problems;  // files that cannot be read, syntax tgt-admin refuses
  bool ignore_errors = false;           // top-level `ignore-errors yes`: go on past a failure
  bool named_file_unreadable = false;   // a file given to read_tgt_config could not be read
};

// Reads the configuration files (and, recursively, what they include). Never throws for
// bad input: every problem is in the result.
[[nodiscard]] TgtConfig read_tgt_config(std::span<const std::string> files);

}  // namespace tgt_pmem::admin
