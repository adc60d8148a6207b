// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push: the thin command-line front of the push-mode client (steps or --bench).
#include <csignal>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "push_bench.h"
#include "push_options.h"
#include "push_runner.h"
#include "push_secret.h"
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/text/version.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
  namespace tool = tgt_pmem::push::tool;
  using tgt_pmem::push::Client;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (tgt_pmem::text::version_asked(args)) {
    std::fputs(tgt_pmem::text::version_text("tgtpmem-push").c_str(), stdout);
    return kExitOk;
  }
  auto parsed = tool::parse_command_line(args);
  if (!parsed) {
    std::fprintf(stderr, "tgtpmem-push: %s\nTry 'tgtpmem-push --help'.\n", parsed.error().c_str());
    return kExitUsage;
  }
  if (const auto* help = std::get_if<tool::HelpRequested>(&*parsed)) {
    std::fputs(help->text.c_str(), stdout);
    return kExitOk;
  }
  auto& o = std::get<tool::ToolOptions>(*parsed);
  if (!o.chap_secret_file.empty()) {
    auto secret = tool::read_secret_file(o.chap_secret_file);
    if (!secret) {
      std::fprintf(stderr, "tgtpmem-push: --chap-secret-file %s\n", secret.error().c_str());
      return kExitUsage;
    }
    o.client.chap_secret = std::move(*secret);
  }
  std::signal(SIGPIPE, SIG_IGN);

  const std::string where = o.client.address + ":" + std::to_string(o.client.port);
  auto client = Client::connect(o.client);
  if (!client) {
    if (o.expect_connect_refused) {
      std::printf("connect %s: ok refused as expected: %s\n", where.c_str(),
                  client.error().message().c_str());
      return kExitOk;
    }
    std::printf("connect %s: FAILED %s\n", where.c_str(), client.error().message().c_str());
    return kExitFailed;
  }
  if (o.expect_connect_refused) {
    std::printf("connect %s: FAILED connected, but --expect-connect=refused\n", where.c_str());
    return kExitFailed;
  }
  std::printf(
      "connect %s: ok lun_size=%llu block_size=%u max_regions=%u max_exposed=%llu rdma_flush=%s\n",
      where.c_str(), static_cast<unsigned long long>(client->lun_size()), client->block_size(),
      client->max_regions(), static_cast<unsigned long long>(client->max_exposed()),
      client->rdma_flush_offered() ? "yes" : "no");
  std::fflush(stdout);

  if (o.bench) {
    auto rows = tool::run_bench(*client, o.bench_options);
    if (!rows) {
      std::printf("bench: FAILED %s\n", rows.error().c_str());
      return kExitFailed;
    }
    std::fputs(tool::format_table(*rows, o.bench_options).c_str(), stdout);
    if (o.json) std::fputs(tool::format_json(*rows, o.bench_options).c_str(), stdout);
    return kExitOk;
  }

  const bool ok = tool::run_steps(*client, o.steps, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);  // a test may watch the steps go by (sleep steps)
  });
  return ok ? kExitOk : kExitFailed;
}
