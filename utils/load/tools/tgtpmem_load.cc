// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-load: the thin command-line front of the load generator library.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "tgt_pmem/load/iscsi_runner.h"
#include "tgt_pmem/load/options.h"
#include "tgt_pmem/load/report.h"
#include "tgt_pmem/text/version.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitIoFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSetup = 3;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  namespace load = tgt_pmem::load;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (tgt_pmem::text::version_asked(args)) {
    std::fputs(tgt_pmem::text::version_text("tgtpmem-load").c_str(), stdout);
    return 0;
  }
  auto parsed = load::parse_options(args);
  if (!parsed) {
    std::fprintf(stderr, "tgtpmem-load: %s\nTry 'tgtpmem-load --help'.\n", parsed.error().c_str());
    return kExitUsage;
  }
  if (const auto* help = std::get_if<load::HelpRequested>(&*parsed)) {
    std::fputs(help->text.c_str(), stdout);
    return kExitOk;
  }
  const auto& options = std::get<load::LoadOptions>(*parsed);

  // First SIGINT/SIGTERM: stop issuing, drain, report. The default action comes back so that
  // a second one ends the process at once.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto report = load::run_load(options, g_stop);
  if (!report) {
    std::fprintf(stderr, "tgtpmem-load: %s\n", report.error().message.c_str());
    if (options.json) std::fputs(load::format_json_failure(report.error().message).c_str(), stdout);
    return kExitSetup;
  }
  std::fputs((options.json ? load::format_json(*report) : load::format_text(*report)).c_str(),
             stdout);
  if (!load::run_succeeded(*report)) {
    if (report->io_error) std::fprintf(stderr, "tgtpmem-load: %s\n", report->io_error->c_str());
    if (report->verify.errors != 0) {
      std::fprintf(stderr, "tgtpmem-load: data verification failed on %llu blocks%s%s\n",
                   static_cast<unsigned long long>(report->verify.errors),
                   report->verify.first_errors.empty() ? "" : ", first: ",
                   report->verify.first_errors.empty()
                       ? ""
                       : report->verify.first_errors.front().c_str());
    }
    return kExitIoFailure;
  }
  return kExitOk;
}
