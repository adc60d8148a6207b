// SPDX-License-Identifier: GPL-2.0-only
// The raw layout's store records (store_record.h). Bugs they catch: a raw store opened with
// another block size than it was served with (initiators misread their partition tables and
// file systems), a devdax namespace served under another device's name after a renumbering
// (one LUN's data given to another), and false refusals of a store that was replaced or
// forgotten on purpose.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include "scratch_dir.h"
#include "store_record.h"

namespace tgt_pmem::bs {
namespace {

namespace fs = std::filesystem;
using K = StoreRecordCheck::Kind;

class Fd {
 public:
  explicit Fd(const std::string& path, int flags = O_RDWR | O_CREAT) : fd_(::open(path.c_str(), flags, 0600)) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  [[nodiscard]] int get() const { return fd_; }
 private:
  int fd_;
};

TEST(StoreRecord, FileBlockSizeIsKeptUntilForgottenOrReplaced) {
  testing::ScratchDir d("store-record");
  ASSERT_FALSE(d.path().empty());
  const fs::path dir = d.file("records");
  const std::string store = d.file("lun.img");
  {
    Fd f(store);
    ASSERT_GE(f.get(), 0);
    EXPECT_EQ(check_store_record(dir, store, f.get(), 512).kind, K::kNew);
    EXPECT_EQ(check_store_record(dir, store, f.get(), 512).kind, K::kSame);
    const auto r = check_store_record(dir, store, f.get(), 4096);
    EXPECT_EQ(r.kind, K::kRefused);
    EXPECT_NE(r.message.find("was served with 512-byte blocks"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("tgtpmem-admin forget " + store), std::string::npos) << r.message;
    // Through a symlink: the same store, the same record.
    fs::create_symlink(store, d.file("alias"));
    EXPECT_EQ(check_store_record(dir, d.file("alias"), f.get(), 4096).kind, K::kRefused);
    std::string error;
    EXPECT_TRUE(forget_store_record(dir, store, &error)) << error;
    EXPECT_FALSE(forget_store_record(dir, store, &error));
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_EQ(check_store_record(dir, store, f.get(), 4096).kind, K::kNew);
  }
  // The file re-created: another inode, another store; recorded afresh, said so.
  fs::remove(store);
  {
    Fd g(d.file("other.img"));  // keeps the old inode number from being reused at once
    Fd f(store);
    const auto r = check_store_record(dir, store, f.get(), 512);
    EXPECT_EQ(r.kind, K::kReplaced);
    EXPECT_NE(r.message.find("another store than the one recorded"), std::string::npos);
    EXPECT_EQ(check_store_record(dir, store, f.get(), 512).kind, K::kSame);
  }
}

// A devdax device as store_identity sees one: a character device (here /dev/null) whose
// /sys/dev/char/M:m leads to a dax device whose parent has the info block's UUID.
struct FakeSysfs {
  explicit FakeSysfs(const fs::path& root) : root(root) {
    fs::create_directories(root / "devices/ndbus0/region0/dax0.0/dax0.0");
    fs::create_directories(root / "dev/char");
    fs::create_directory_symlink(root / "devices/ndbus0/region0/dax0.0/dax0.0",
                                 root / "dev/char/1:3");  // /dev/null's numbers
    set_uuid("6a1c0e59-0b55-4d2f-9d1e-3f2f6c1d0a11");
  }
  void set_uuid(const std::string& u) {
    std::ofstream(root / "devices/ndbus0/region0/dax0.0/uuid") << u << "\n";
  }
  fs::path root;
};

TEST(StoreRecord, ARenumberedDevdaxNamespaceIsRefused) {
  testing::ScratchDir d("store-record-dax");
  ASSERT_FALSE(d.path().empty());
  FakeSysfs sys(d.file("sys"));
  const fs::path dir = d.file("records");
  Fd dev("/dev/null", O_RDONLY);
  ASSERT_GE(dev.get(), 0);
  const auto id = store_identity(dev.get(), sys.root);
  EXPECT_EQ(id.kind, "devdax");
  EXPECT_EQ(id.id, "6a1c0e59-0b55-4d2f-9d1e-3f2f6c1d0a11");

  EXPECT_EQ(check_store_record(dir, "/dev/dax0.0", dev.get(), 4096, sys.root).kind, K::kNew);
  // The same namespace now appears as dax1.0 (names renumbered).
  const auto r = check_store_record(dir, "/dev/dax1.0", dev.get(), 4096, sys.root);
  EXPECT_EQ(r.kind, K::kRefused);
  EXPECT_NE(r.message.find("served as /dev/dax0.0"), std::string::npos) << r.message;
  // Another namespace at dax0.0 (re-created): recorded afresh; dax1.0 then takes the old one.
  sys.set_uuid("0f3c9a3e-6a40-4d8b-a9a1-7e8e0c9d2b22");
  EXPECT_EQ(check_store_record(dir, "/dev/dax0.0", dev.get(), 4096, sys.root).kind, K::kReplaced);
  sys.set_uuid("6a1c0e59-0b55-4d2f-9d1e-3f2f6c1d0a11");
  EXPECT_EQ(check_store_record(dir, "/dev/dax1.0", dev.get(), 4096, sys.root).kind, K::kNew);
}

TEST(StoreRecord, AnUnwritableRecordDirectoryRefusesNothing) {
  testing::ScratchDir d("store-record-ro");
  ASSERT_FALSE(d.path().empty());
  Fd f(d.file("lun.img"));
  std::ofstream(d.file("not-a-dir")) << "x";
  const auto r = check_store_record(d.file("not-a-dir"), d.file("lun.img"), f.get(), 512);
  EXPECT_EQ(r.kind, K::kUnrecorded);
  EXPECT_NE(r.message.find("no record of"), std::string::npos);
}

}  // namespace
}  // namespace tgt_pmem::bs
