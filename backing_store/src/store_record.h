// SPDX-License-Identifier: GPL-2.0-only
// What the raw layout cannot keep on the medium (every byte of it is the LUN's): the block
// size a store was served with, and which store it was, recorded outside it, in
// /var/lib/tgt-pmem/stores/ (bs_pmem(8), STORE RECORDS). The atomic layout's header refuses a
// LUN opened with another block size than it was formatted for; this gives raw LUNs the same:
//  - the same store (a file: device and inode; devdax: the dax info block's UUID in sysfs)
//    opened with another block size than recorded: refused (initiators would read their
//    partition tables and file systems at the wrong offsets);
//  - a devdax device whose UUID is recorded under another path: refused (namespaces were
//    renumbered: serving it here would give one LUN's data to another);
//  - another store at a recorded path (a file re-created, a namespace re-created): recorded
//    afresh, with a log line.
// A record is dropped with `tgtpmem-admin forget PATH`, and by `tgtpmem-admin create PATH`.
// Records are keyed by the canonical path (symlinks resolved), written whole and durably
// (fsync of file and directory). Not being able to write one never refuses a LUN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace tgt_pmem::bs {

// $TGTPMEM_STATE_DIR, or /var/lib/tgt-pmem/stores.
[[nodiscard]] std::filesystem::path store_record_dir();

struct StoreIdentity {
  std::string kind;  // "file" or "devdax"
  std::string id;    // file: "<st_dev>:<st_ino>"; devdax: the UUID, or "" if sysfs has none
};
// The identity of the open store fd. sysfs_root: "/sys" (tests give another).
[[nodiscard]] StoreIdentity store_identity(int fd, const std::filesystem::path& sysfs_root);

struct StoreRecordCheck {
  enum class Kind {
    kNew,       // no record: one was made
    kSame,      // the record agrees
    kReplaced,  // another store at a recorded path: recorded afresh (message says which)
    kRefused,   // message says why, and what to do
    kUnrecorded,  // no record could be read or written (message says why); not refused
  };
  Kind kind = Kind::kNew;
  std::string message;
};

// Checks the open store fd at path (served raw with block_size) against the records in dir,
// and records it (unless record is false: tgtpmem-admin check-config predicts, changing
// nothing). Never throws.
[[nodiscard]] StoreRecordCheck check_store_record(const std::filesystem::path& dir,
                                                  const std::string& path, int fd,
                                                  std::uint32_t block_size,
                                                  const std::filesystem::path& sysfs_root =
                                                      "/sys",
                                                  bool record = true) noexcept;

// Drops the record of path (canonical); true if there was one. Error: errno text.
[[nodiscard]] bool forget_store_record(const std::filesystem::path& dir, const std::string& path,
                                       std::string* error) noexcept;

}  // namespace tgt_pmem::bs
