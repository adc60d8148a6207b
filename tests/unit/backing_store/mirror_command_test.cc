// SPDX-License-Identifier: GPL-2.0-only
// What a mirror primary sends its secondary for each SCSI command (mirror/command_range.h),
// and the CHAP file of bsopts mirror_chap= (mirror/chap_file.h).
// Bug each catches: a command that changes blocks left to the local copy alone (the copies
// then differ where no bitmap bit says so), or the wrong range sent.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <vector>

#include "mirror/chap_file.h"
#include "mirror/command_range.h"
#include "scratch_dir.h"

namespace tgt_pmem::bs::mirror {
namespace {

using K = CommandRange::Kind;
constexpr std::uint32_t kBs = 512;
constexpr std::uint64_t kBlocks = 2048;  // 1 MiB

std::vector<std::uint8_t> cdb16(std::uint8_t op, std::uint64_t lba, std::uint32_t blocks,
                                std::uint8_t flags = 0) {
  std::vector<std::uint8_t> c(16, 0);
  c[0] = op;
  c[1] = flags;
  for (int i = 0; i < 8; ++i) c[2 + i] = static_cast<std::uint8_t>(lba >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) c[10 + i] = static_cast<std::uint8_t>(blocks >> (24 - 8 * i));
  return c;
}
std::vector<std::uint8_t> cdb10(std::uint8_t op, std::uint32_t lba, std::uint16_t blocks) {
  std::vector<std::uint8_t> c(10, 0);
  c[0] = op;
  for (int i = 0; i < 4; ++i) c[2 + i] = static_cast<std::uint8_t>(lba >> (24 - 8 * i));
  c[7] = static_cast<std::uint8_t>(blocks >> 8);
  c[8] = static_cast<std::uint8_t>(blocks);
  return c;
}
CommandRange range(const std::vector<std::uint8_t>& cdb, std::size_t out_len = 0) {
  std::vector<std::byte> out(out_len);
  return command_range(cdb, out, kBs, kBlocks);
}

TEST(MirrorCommandRange, AWriteSendsItsOwnDataBesideTheLocalHalf) {
  auto r = range(cdb10(0x2a, 8, 4), 4 * kBs);
  EXPECT_EQ(r.kind, K::kMirrored);
  EXPECT_EQ(r.offset, 8u * kBs);
  EXPECT_EQ(r.length, 4u * kBs);
  EXPECT_TRUE(r.data_from_command);
  r = range(cdb16(0x8a, 100, 3), 3 * kBs);  // WRITE(16)
  EXPECT_EQ(r.offset, 100u * kBs);
  EXPECT_TRUE(r.data_from_command);
  r = range(cdb16(0x8e, 100, 3), 3 * kBs);  // WRITE AND VERIFY(16)
  EXPECT_EQ(r.kind, K::kMirrored);
  // A short Data-Out: the local copy's range is what counts.
  r = range(cdb10(0x2a, 8, 4), 2 * kBs);
  EXPECT_EQ(r.kind, K::kMirrored);
  EXPECT_FALSE(r.data_from_command);
}

TEST(MirrorCommandRange, CommandsWhoseBytesTheLocalHalfMakesSendTheLocalRange) {
  // WRITE SAME(16), one block of data for 64 blocks; with 0 blocks: up to the end.
  auto r = range(cdb16(0x93, 10, 64), kBs);
  EXPECT_EQ(r.kind, K::kMirrored);
  EXPECT_EQ(r.offset, 10u * kBs);
  EXPECT_EQ(r.length, 64u * kBs);
  EXPECT_FALSE(r.data_from_command);
  r = range(cdb16(0x93, 2000, 0), kBs);
  EXPECT_EQ(r.length, 48u * kBs) << "WRITE SAME with 0 blocks runs to the last LBA";
  // COMPARE AND WRITE: the Data-Out holds the verify half first: never sent as such.
  std::vector<std::uint8_t> caw(16, 0);
  caw[0] = 0x89;
  caw[9] = 7;   // LBA 7
  caw[13] = 1;  // one block
  r = range(caw, 2 * kBs);
  EXPECT_EQ(r.kind, K::kMirrored);
  EXPECT_EQ(r.offset, 7u * kBs);
  EXPECT_EQ(r.length, kBs);
  EXPECT_FALSE(r.data_from_command);
}

TEST(MirrorCommandRange, UnmapSendsTheSpanOfItsDescriptors) {
  std::vector<std::uint8_t> cdb(10, 0);
  cdb[0] = 0x42;
  cdb[8] = 40;  // parameter list length
  std::vector<std::byte> out(40);
  auto put = [&](std::size_t at, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out[at + i] = std::byte(static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i))));
  };
  put(2, 32, 2);          // block descriptor data length: two descriptors
  put(8, 100, 8);         // LBA 100
  put(16, 10, 4);         // 10 blocks
  put(24, 40, 8);         // LBA 40
  put(32, 5, 4);          // 5 blocks
  auto r = command_range(cdb, out, kBs, kBlocks);
  EXPECT_EQ(r.kind, K::kMirrored);
  EXPECT_EQ(r.offset, 40u * kBs);
  EXPECT_EQ(r.length, 70u * kBs);
  EXPECT_FALSE(r.data_from_command);
  put(24, kBlocks, 8);  // a descriptor beyond the LUN: the engine refuses the whole list
  EXPECT_EQ(command_range(cdb, out, kBs, kBlocks).kind, K::kLocalOnly);
}

TEST(MirrorCommandRange, WhatChangesNoBlockStaysLocal) {
  EXPECT_EQ(range(cdb10(0x28, 0, 8)).kind, K::kLocalOnly);          // READ(10)
  EXPECT_EQ(range(cdb10(0x35, 0, 8)).kind, K::kLocalOnly);          // SYNCHRONIZE CACHE
  EXPECT_EQ(range(cdb10(0x2a, 8, 0)).kind, K::kLocalOnly);          // zero blocks
  EXPECT_EQ(range(cdb10(0x2a, kBlocks - 1, 2), 2 * kBs).kind, K::kLocalOnly);  // refused
  EXPECT_EQ(range(std::vector<std::uint8_t>{0x2a, 0}).kind, K::kLocalOnly);   // too short
  EXPECT_EQ(range({}).kind, K::kLocalOnly);
}

TEST(MirrorChapFile, TwoLinesReadableByItsOwnerOnly) {
  testing::ScratchDir dir("mirror-chap");
  const std::string path = dir.path() + "/chap";
  {
    std::ofstream f(path);
    f << "primary-1\r\ns3cret-s3cret\n";
  }
  ::chmod(path.c_str(), 0600);
  auto c = read_chap_file(path);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->user, "primary-1");
  EXPECT_EQ(c->secret, "s3cret-s3cret");
  ::chmod(path.c_str(), 0640);
  c = read_chap_file(path);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("readable by others than its owner"), std::string::npos) << c.error();
  EXPECT_EQ(c.error().find("s3cret"), std::string::npos) << "the secret in a message";
  {
    std::ofstream f(path);
    f << "only-a-user\n";
  }
  ::chmod(path.c_str(), 0600);
  c = read_chap_file(path);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("expected two lines"), std::string::npos);
  EXPECT_FALSE(read_chap_file(dir.path() + "/missing"));
}

}  // namespace
}  // namespace tgt_pmem::bs::mirror
