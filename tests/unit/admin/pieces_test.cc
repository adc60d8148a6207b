// SPDX-License-Identifier: GPL-2.0-only
// The small pieces of tgtpmem-admin: sizes, the --json line, progress, the SIGBUS guard, layouts.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "commands.h"
#include "guarded.h"
#include "layout.h"
#include "progress.h"
#include "scratch_dir.h"
#include "size.h"

namespace tgt_pmem::admin {
namespace {

TEST(AdminSize, ParsesBinarySuffixes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("64M"), 64u << 20);
  EXPECT_EQ(parse_size("2GiB"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1t"), std::uint64_t{1} << 40);
}

TEST(AdminSize, RefusesGarbage) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("12q"));
  EXPECT_FALSE(parse_size("k"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  ASSERT_FALSE(parse_size("20000000t"));
  EXPECT_NE(parse_size("20000000t").error().find("too large"), std::string::npos);
}

TEST(AdminSize, FormatsHumanSizes) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64u << 20), "64 MiB");
  EXPECT_EQ(format_size(3u << 29), "1.50 GiB");
}

// One compact line, keys in the order set, strings escaped; bytes that are not UTF-8 (a path
// can hold any) are replaced instead of throwing out of the command.
TEST(AdminJson, WritesOneCompactOrderedLine) {
  nlohmann::ordered_json j;
  j["z"] = std::uint64_t{1} << 40;
  j["a"] = nlohmann::ordered_json::array({"x", nullptr, true});
  j["path"] = std::string("/srv/a\"b\\c\nd\x01\xff");
  EXPECT_EQ(json_line(j),
            "{\"z\":1099511627776,\"a\":[\"x\",null,true],"
            "\"path\":\"/srv/a\\\"b\\\\c\\nd\\u0001\xef\xbf\xbd\"}\n");
}

TEST(AdminProgress, PlainLinesEveryTenPercent) {
  std::ostringstream out;
  Progress p(out, false, "zeroing x", 1000);
  for (std::uint64_t done = 0; done <= 1000; done += 7) p.update(done);
  p.finish();
  const std::string s = out.str();
  EXPECT_NE(s.find("zeroing x: 0% (0 B of 1000 B)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("zeroing x: 50% "), std::string::npos) << s;
  EXPECT_NE(s.find("zeroing x: 100% (1000 B of 1000 B)\n"), std::string::npos) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 11) << s;  // 0, 10, ..., 100
  EXPECT_EQ(s.find('\r'), std::string::npos);
}

TEST(AdminProgress, TerminalBarIsRedrawnInPlace) {
  std::ostringstream out;
  Progress p(out, true, "zeroing x", 200);
  p.update(0);
  p.update(100);
  p.update(101);  // same percent: not redrawn
  p.finish();
  const std::string s = out.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\r'), 3) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << s;
  EXPECT_NE(s.find("] 100%  200 B / 200 B"), std::string::npos) << s;
}

TEST(AdminGuarded, FindsFirstNonZeroByte) {
  std::vector<std::byte> buf(10000);
  EXPECT_EQ(find_nonzero(buf, 0, buf.size()), std::nullopt);
  buf[9999] = std::byte{1};
  EXPECT_EQ(find_nonzero(buf, 0, buf.size()), 9999u);
  buf[3] = std::byte{7};
  EXPECT_EQ(find_nonzero(buf, 0, buf.size()), 3u);
  EXPECT_EQ(find_nonzero(buf, 4, buf.size()), 9999u);
}

// A mapping of a file truncated under it faults with SIGBUS beyond the new end: the guard
// turns that into an error instead of killing the test.
TEST(AdminGuarded, SigbusBecomesAnError) {
  const tgt_pmem::testing::ScratchDir dir("tgtpmem-admin-sigbus");
  const int fd = ::open(dir.file("truncated").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << "in scratch directory '" << dir.path() << "'";
  const std::size_t size = 1 << 20;
  ASSERT_EQ(::ftruncate(fd, size), 0);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(p), size);
  auto r = find_nonzero(bytes, 0, size);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("SIGBUS reading offset 4096"), std::string::npos) << r.error();
  // The guard is gone afterwards, and works again.
  EXPECT_FALSE(find_nonzero(bytes, 8192, size));
  ::munmap(p, size);
  ::close(fd);
}

TEST(AdminLayouts, RawIsTheFallback) {
  std::vector<std::byte> medium(4096, std::byte{0x5a});
  EXPECT_EQ(detect_layout(medium).name(), "raw");
  ASSERT_NE(layout_named("raw"), nullptr);
  EXPECT_EQ(layout_named("nosuch"), nullptr);
  EXPECT_EQ(all_layouts().back()->name(), "raw");  // tried last: it matches everything
  EXPECT_FALSE(layout_named("raw")->recorded_block_size(medium));
}

}  // namespace
}  // namespace tgt_pmem::admin
