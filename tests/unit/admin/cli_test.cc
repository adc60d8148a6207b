// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin's command line: what is accepted, and a usage error for everything else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli.h"

namespace tgt_pmem::admin {
namespace {

Parsed parse(std::vector<std::string> args) { return parse_command_line(args); }

std::string usage_message(const Parsed& p) {
  const auto* u = std::get_if<UsageError>(&p);
  return u ? u->message : "(not a usage error)";
}

TEST(AdminCli, CreateWithAllOptions) {
  auto p = parse({"create", "/x.img", "--size", "64m", "-b", "4096", "--force", "--zero", "--json"});
  const auto* c = std::get_if<CreateArgs>(&p);
  ASSERT_NE(c, nullptr) << usage_message(p);
  EXPECT_EQ(c->path, "/x.img");
  EXPECT_EQ(c->size, 64u << 20);
  EXPECT_EQ(c->block_size, 4096u);
  EXPECT_TRUE(c->force && c->zero && c->json);
  EXPECT_EQ(c->layout, "raw");
}

TEST(AdminCli, MirrorFormatAndStatus) {
  auto p = parse({"mirror-format", "/m.meta", "--role", "secondary", "--lun-size", "1t",
                  "--region-size", "4m", "--force"});
  const auto* m = std::get_if<MirrorFormatArgs>(&p);
  ASSERT_NE(m, nullptr) << usage_message(p);
  EXPECT_EQ(m->role, "secondary");
  EXPECT_EQ(m->lun_size, 1ull << 40);
  EXPECT_EQ(m->region_shift, 22u);
  EXPECT_TRUE(m->force);
  auto d = parse({"mirror-format", "/m.meta", "--role", "primary", "--lun-size", "64m"});
  ASSERT_NE(std::get_if<MirrorFormatArgs>(&d), nullptr) << usage_message(d);
  EXPECT_EQ(std::get<MirrorFormatArgs>(d).region_shift, 20u) << "1 MiB regions by default";
  {
    auto pr = parse({"mirror-promote", "/m.meta"});
    const auto* r = std::get_if<MirrorRoleArgs>(&pr);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->promote);
    auto de = parse({"mirror-demote", "/m.meta", "--json"});
    r = std::get_if<MirrorRoleArgs>(&de);
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->promote);
    EXPECT_TRUE(r->json);
  }
  EXPECT_NE(std::get_if<MirrorStatusArgs>(&(d = parse({"mirror-status", "/m.meta", "--json"}))),
            nullptr);
  EXPECT_EQ(usage_message(parse({"mirror-format", "/m.meta", "--lun-size", "64m"})),
            "mirror-format: --role is required");
  EXPECT_EQ(usage_message(parse({"mirror-format", "/m.meta", "--role", "primary"})),
            "mirror-format: --lun-size is required");
  EXPECT_EQ(usage_message(parse({"mirror-format", "/m", "--role", "both", "--lun-size", "1m"})),
            "mirror-format: --role 'both': expected primary or secondary");
  EXPECT_NE(usage_message(parse({"mirror-format", "/m", "--role", "primary", "--lun-size", "1m",
                                 "--region-size", "3m"}))
                .find("a power of two from 4k to 1g"),
            std::string::npos);
  EXPECT_NE(usage_message(parse({"mirror-format", "/m", "--role", "primary", "--lun-size", "0"}))
                .find("must not be 0"),
            std::string::npos);
}

TEST(AdminCli, CreateDefaults) {
  auto p = parse({"create", "/dev/dax0.0"});
  const auto* c = std::get_if<CreateArgs>(&p);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->size);
  EXPECT_EQ(c->block_size, 512u);
  EXPECT_FALSE(c->force || c->zero || c->json);
}

TEST(AdminCli, InfoAndCheck) {
  auto i = parse({"info", "--json", "/x"});
  ASSERT_TRUE(std::holds_alternative<InfoArgs>(i));
  EXPECT_TRUE(std::get<InfoArgs>(i).json);
  auto c = parse({"check", "/x", "--block-size", "4k"});
  ASSERT_TRUE(std::holds_alternative<CheckArgs>(c)) << usage_message(c);
  EXPECT_EQ(std::get<CheckArgs>(c).block_size, 4096u);
  EXPECT_FALSE(std::get<CheckArgs>(parse({"check", "/x"})).block_size);
}

TEST(AdminCli, HelpEverywhere) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"create", "--help"}, {"info", "-h"}, {"check", "--help"}}) {
    auto p = parse(args);
    ASSERT_TRUE(std::holds_alternative<HelpRequested>(p)) << args.front();
    EXPECT_NE(std::get<HelpRequested>(p).text.find("Exit status:"), std::string::npos);
  }
}

TEST(AdminCli, UsageErrors) {
  EXPECT_NE(usage_message(parse({})).find("no command"), std::string::npos);
  EXPECT_NE(usage_message(parse({"format", "/x"})).find("unknown command 'format'"), std::string::npos);
  EXPECT_NE(usage_message(parse({"--size", "1g"})).find("expected a command"), std::string::npos);
  EXPECT_NE(usage_message(parse({"info"})).find("no PATH"), std::string::npos);
  EXPECT_NE(usage_message(parse({"info", "/a", "/b"})).find("one PATH only"), std::string::npos);
  EXPECT_NE(usage_message(parse({"info", "/a", "--size", "1g"})).find("size"), std::string::npos);
  EXPECT_NE(usage_message(parse({"check", "/a", "--bogus"})).find("--bogus"), std::string::npos);
  EXPECT_NE(usage_message(parse({"create", "/a", "--size", "12q"})).find("unknown suffix"),
            std::string::npos);
  EXPECT_NE(usage_message(parse({"create", "/a", "--size"})).find("size"), std::string::npos);
  EXPECT_NE(usage_message(parse({"create", "/a", "-b", "1024"})).find("512 or 4096"),
            std::string::npos);
  EXPECT_NE(usage_message(parse({"check", "/a", "-b", "x"})).find("512 or 4096"), std::string::npos);
  EXPECT_NE(usage_message(parse({"create", "/a", "--layout", "btt"})).find("unknown layout 'btt'"),
            std::string::npos);
  EXPECT_NE(usage_message(parse({"create", ""})).find("empty"), std::string::npos);
}

TEST(AdminCli, StatusAndDump) {
  auto s = parse({"status"});
  ASSERT_TRUE(std::holds_alternative<StatusArgs>(s));
  EXPECT_EQ(std::get<StatusArgs>(s).control_port, 0);
  EXPECT_FALSE(std::get<StatusArgs>(s).json);
  s = parse({"status", "-C", "9115", "--json"});
  ASSERT_TRUE(std::holds_alternative<StatusArgs>(s));
  EXPECT_EQ(std::get<StatusArgs>(s).control_port, 9115);
  EXPECT_TRUE(std::get<StatusArgs>(s).json);
  auto d = parse({"dump", "--control-port", "3"});
  ASSERT_TRUE(std::holds_alternative<DumpArgs>(d));
  EXPECT_EQ(std::get<DumpArgs>(d).control_port, 3);
  EXPECT_NE(usage_message(parse({"status", "/x"})).find("unexpected argument '/x'"),
            std::string::npos);
  EXPECT_NE(usage_message(parse({"status", "-C", "-1"})).find("0 to 32767"), std::string::npos);
  EXPECT_NE(usage_message(parse({"status", "-C", "x"})).find("control-port"), std::string::npos);
  EXPECT_NE(usage_message(parse({"dump", "--json"})).find("tgt-admin's format"), std::string::npos);
  for (auto args : std::vector<std::vector<std::string>>{{"status", "--help"}, {"dump", "-h"}}) {
    auto p = parse(args);
    ASSERT_TRUE(std::holds_alternative<HelpRequested>(p)) << args.front();
    EXPECT_NE(std::get<HelpRequested>(p).text.find("Usage: tgtpmem-admin " + args.front()),
              std::string::npos);
  }
}

}  // namespace
}  // namespace tgt_pmem::admin
