// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <gtest/gtest.h>

#include <ostream>

namespace tgt_pmem::bs {
namespace {

TEST(ParseOptions, EmptyGivesDefaults) {
  auto o = parse_options("");
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, Options{});
  EXPECT_FALSE(o->write_cache) << "write-through is the default durability contract";
  EXPECT_TRUE(o->unmap);
  EXPECT_EQ(o->exec, Exec::kAuto) << "small commands inline, large ones on workers";
  EXPECT_EQ(o->inline_max, 64u * 1024);
  EXPECT_TRUE(o->read_in_place) << "READs over iSCSI/TCP sent from the mapping";
}

TEST(ParseOptions, ReadInPlaceOnOff) {
  EXPECT_FALSE(parse_options("read_in_place=off")->read_in_place);
  EXPECT_TRUE(parse_options("read_in_place=on")->read_in_place);
  EXPECT_FALSE(parse_options("read_in_place=maybe"));
}

TEST(ParseOptions, AutoTakesThreadsAndInlineMax) {
  auto o = parse_options("exec=auto;threads=2;inline_max=256k");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->exec, Exec::kAuto);
  EXPECT_EQ(o->threads, 2);
  EXPECT_EQ(o->inline_max, 256u * 1024);
  EXPECT_EQ(parse_options("inline_max=0")->inline_max, 0u) << "0: every data transfer on workers";
  EXPECT_EQ(parse_options("exec=inline")->exec, Exec::kInline);
}

TEST(ParseOptions, AcceptsEveryKey) {
  auto o = parse_options(" block_size=4096; write_cache=on;unmap=off ; exec=threads;threads=8;");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->block_size, 4096u);
  EXPECT_TRUE(o->write_cache);
  EXPECT_FALSE(o->unmap);
  EXPECT_EQ(o->exec, Exec::kThreads);
  EXPECT_EQ(o->threads, 8);
}

struct Refused {
  const char* text;
  const char* message_part;
};
// gtest prints the parameter of a case by this (in ctest's list too), not as raw bytes.
void PrintTo(const Refused& r, std::ostream* os) { *os << '"' << r.text << '"'; }

class ParseOptionsRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(ParseOptionsRefuses, WithAClearMessage) {
  auto o = parse_options(GetParam().text);
  ASSERT_FALSE(o) << GetParam().text;
  EXPECT_NE(o.error().find(GetParam().message_part), std::string::npos) << o.error();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseOptionsRefuses,
    ::testing::Values(Refused{"blocksize=512", "unknown key 'blocksize'"},
                      Refused{"block_size=1024", "must be 512 or 4096"},
                      Refused{"block_size=", "expected a decimal number"},
                      Refused{"block_size=4k", "expected a decimal number"},
                      Refused{"write_cache=maybe", "expected on or off"},
                      Refused{"write_cache", "is not key=value"},
                      Refused{"unmap=on;unmap=off", "given twice"},
                      Refused{"exec=fast", "expected auto, inline or threads"},
                      Refused{"exec=threads;threads=0", "must be 1 to 128"},
                      Refused{"exec=inline;threads=4", "needs exec=threads or exec=auto"},
                      Refused{"exec=threads;inline_max=64k", "needs exec=auto"},
                      Refused{"inline_max=17m", "must be 0 to 16m"},
                      Refused{"inline_max=lots", "inline_max=lots"},
                      Refused{"block_size=99999999999999999999999", "expected a decimal number"},
                      Refused{"push=maybe", "expected on or off"},
                      Refused{"push_port=5566", "needs push=on"},
                      Refused{"push=on;push_port=0", "must be 1 to 65535"},
                      Refused{"push=on;push_port=65536", "must be 1 to 65535"},
                      Refused{"push=on;layout=atomic", "push=on needs layout=raw"},
                      Refused{"push=on;unmap=on", "unmap=on cannot be combined with push=on"},
                      Refused{"push_poll_us=100", "needs push=on"},
                      Refused{"durability=msync", "expected auto, cache-flush or emulated"},
                      Refused{"push=on;push_poll_us=10001", "must be 0 to 10000"},
                      Refused{"push=on;push_poll_us=-1", "expected a decimal number"},
                      Refused{"push_address=192.0.2.1", "needs push=on"},
                      Refused{"push=on;push_address=storage-net", "numeric IPv4 or IPv6"},
                      Refused{"push=on;push_address=192.0.2.256", "numeric IPv4 or IPv6"},
                      Refused{"push=on;push_address=", "numeric IPv4 or IPv6"},
                      Refused{"push=on;push_address=fe80::1%eth0", "numeric IPv4 or IPv6"},
                      Refused{"mirror_meta=meta.img", "expected an absolute path"},
                      Refused{"mirror_meta=", "expected an absolute path"},
                      Refused{"mirror_meta=/m;layout=atomic", "mirror_meta= needs layout=raw"},
                      Refused{"mirror=192.0.2.2;mirror_target=iqn.x", "mirror= needs mirror_meta=PATH"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m", "needs mirror_target=IQN"},
                      Refused{"mirror=secondary.example;mirror_meta=/m;mirror_target=t",
                              "expected a numeric address"},
                      Refused{"mirror=192.0.2.2:0;mirror_meta=/m;mirror_target=t", "numeric address"},
                      Refused{"mirror=192.0.2.2:99999;mirror_meta=/m;mirror_target=t", "numeric address"},
                      Refused{"mirror=[2001:db8::2;mirror_meta=/m;mirror_target=t", "numeric address"},
                      Refused{"mirror_target=iqn.x", "mirror_target= needs mirror=ADDRESS"},
                      Refused{"mirror_policy=degrade", "mirror_policy= needs mirror=ADDRESS"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m;mirror_target=t;mirror_policy=maybe",
                              "expected fail or degrade"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m;mirror_target=t;mirror_chap=chap",
                              "expected the absolute path"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m;mirror_target=t;push=on",
                              "cannot be combined with push=on"},
                      Refused{"mirror_resync_mibps=50", "mirror_resync_mibps= needs mirror=ADDRESS"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m;mirror_target=t;"
                              "mirror_resync_mibps=1048577",
                              "must be 0 (no limit) to 1048576"},
                      Refused{"mirror=192.0.2.2;mirror_meta=/m;mirror_target=t;"
                              "mirror_resync_mibps=fast",
                              "expected a decimal number"}));

// Bug caught: a mirror primary configured with the wrong secondary (another port, LUN or
// policy than written) or defaults that acknowledge writes on one copy only.
TEST(ParseOptions, MirrorNamesTheSecondaryAndDefaultsToPolicyFail) {
  auto o = parse_options("mirror=192.0.2.2;mirror_meta=/m;mirror_target=iqn.2026-12.x:sec");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mirror, "192.0.2.2");
  EXPECT_EQ(o->mirror_port, 5566);
  EXPECT_EQ(o->mirror_target, "iqn.2026-12.x:sec");
  EXPECT_EQ(o->mirror_lun, 1u);
  EXPECT_FALSE(o->mirror_degrade) << "the default policy must be fail";
  EXPECT_EQ(o->mirror_resync_mibps, 100u) << "a resync is rate-limited unless asked";
  o = parse_options(
      "mirror=[2001:db8::2]:7000;mirror_meta=/m;mirror_target=t;mirror_lun=3;"
      "mirror_policy=degrade;mirror_chap=/etc/tgt-pmem/chap;mirror_initiator=iqn.x:p;"
      "mirror_resync_mibps=0");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mirror_resync_mibps, 0u);
  EXPECT_EQ(o->mirror, "2001:db8::2");
  EXPECT_EQ(o->mirror_port, 7000);
  EXPECT_EQ(o->mirror_lun, 3u);
  EXPECT_TRUE(o->mirror_degrade);
  EXPECT_EQ(o->mirror_chap, "/etc/tgt-pmem/chap");
  EXPECT_EQ(o->mirror_initiator, "iqn.x:p");
  o = parse_options("mirror=192.0.2.2:6000;mirror_meta=/m;mirror_target=t");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->mirror_port, 6000);
}

TEST(ParseOptions, MirrorMetaIsAPath) {
  EXPECT_EQ(parse_options("")->mirror_meta, "");
  EXPECT_EQ(parse_options("mirror_meta=/var/lib/tgt-pmem/lun1.meta;push=on")->mirror_meta,
            "/var/lib/tgt-pmem/lun1.meta");
}

TEST(ParseOptions, DurabilityIsAutoUnlessAskedFor) {
  EXPECT_EQ(parse_options("")->durability, Durability::kAuto);
  EXPECT_EQ(parse_options("durability=auto")->durability, Durability::kAuto);
  EXPECT_EQ(parse_options("durability=cache-flush")->durability, Durability::kCacheFlush);
  EXPECT_EQ(parse_options("durability=emulated")->durability, Durability::kEmulated);
}

TEST(ParseOptions, PushModeIsOffByDefaultAndTakesAPort) {
  auto d = parse_options("");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->push);
  auto o = parse_options("push=on;push_port=7000");
  ASSERT_TRUE(o) << o.error();
  EXPECT_TRUE(o->push);
  EXPECT_EQ(o->push_port, 7000);
  auto p = parse_options("push=on");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->push_port, 5566) << "the documented default port";
  EXPECT_FALSE(p->unmap) << "push mode never punches holes under registered regions";
  EXPECT_EQ(p->push_poll_us, 0u) << "no polling unless asked for";
  auto q = parse_options("push=on;push_poll_us=500");
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(q->push_poll_us, 500u);
  EXPECT_EQ(p->push_address, "0.0.0.0") << "every IPv4 address by default";
  auto a = parse_options("push=on;push_address=192.0.2.1");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->push_address, "192.0.2.1");
  auto six = parse_options("push=on;push_address=2001:db8::7");
  ASSERT_TRUE(six) << six.error();
  EXPECT_EQ(six->push_address, "2001:db8::7");
}

}  // namespace
}  // namespace tgt_pmem::bs
