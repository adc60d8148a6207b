// SPDX-License-Identifier: GPL-2.0-only
#include "push_options.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>

#include "tgt_pmem/text/command_line.h"
#include "tgt_pmem/text/size.h"

namespace tgt_pmem::push::tool {
namespace po = boost::program_options;

namespace {

po::options_description describe() {
  po::options_description session("Session");
  session.add_options()
      ("address,a", po::value<std::string>()->value_name("ADDR"),
       "the target's RDMA address, numeric IPv4 or IPv6 (required)")
      ("port,p", po::value<std::uint16_t>()->value_name("PORT"),
       "the push service's RDMA CM port, bs_pmem's push_port= (default 5566)")
      ("initiator,i", po::value<std::string>()->value_name("NAME"),
       "initiator name the target's ACL checks (required)")
      ("target,t", po::value<std::string>()->value_name("IQN"), "target name (required)")
      ("lun,l", po::value<std::uint64_t>()->value_name("N"), "LUN number (default 0)")
      ("chap-user", po::value<std::string>()->value_name("USER"),
       "answer a CHAP challenge as USER")
      ("chap-secret", po::value<std::string>()->value_name("SECRET"),
       "the CHAP secret (other users see it in ps: prefer --chap-secret-file)")
      ("chap-secret-file", po::value<std::string>()->value_name("FILE"),
       "read the CHAP secret from FILE, its one line")
      ("timeout", po::value<double>()->value_name("SEC"),
       "give up on connecting, on any reply and on any transfer after SEC seconds "
       "(default 10)")
      ("poll-us", po::value<std::uint32_t>()->value_name("N"),
       "poll for each completion up to N microseconds (0-10000) before sleeping: lower "
       "latency for a busy CPU (default 0)")
      ("remote-flush", po::value<std::string>()->value_name("METHOD"),
       "the one-sided flush of write-flush steps and of --bench: auto (RDMA FLUSH where the "
       "connection and the region offer it, else read-after-write; the default), "
       "read-after-write, or rdma-flush (fails where RDMA FLUSH is not available)")
      ("expect-connect", po::value<std::string>()->value_name("ok|refused"),
       "'refused': the connection must be refused (exit 0 if it is, 1 if not)");

  po::options_description bench("Benchmark (instead of steps)");
  bench.add_options()
      ("bench", "measure durable writes: WRITE+COMMIT against WRITE+a one-sided flush")
      ("size", po::value<std::string>()->value_name("SIZE"), "bytes per write (default 4k)")
      ("count", po::value<std::uint64_t>()->value_name("N"),
       "writes per method (default 1000; with --runtime, no limit)")
      ("runtime", po::value<double>()->value_name("SEC"),
       "run each method for SEC seconds (or --count writes, if that comes first)")
      ("region", po::value<std::string>()->value_name("SIZE"),
       "bytes registered, written round-robin (default 1m)")
      ("offset", po::value<std::string>()->value_name("SIZE"),
       "where the region starts in the LUN (default 0)")
      ("json", "also print the figures as one JSON line")
      ("help,h", "print this help")
      ("version", "print the version and exit");

  po::options_description all;
  all.add(session).add(bench);
  return all;
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: tgtpmem-push [OPTIONS] STEP...\n"
         "       tgtpmem-push [OPTIONS] --bench [--size SIZE] [--count N] [--runtime SEC]\n"
         "                    [--region SIZE] [--offset SIZE]\n"
         "                    [--remote-flush auto|read-after-write|rdma-flush]\n"
         "\n"
         "A push-mode client of a tgt-pmem LUN: connects over RDMA, then runs the STEPs in\n"
         "order on that one connection, one report line each (\"step N STEP: ok ...\" or\n"
         "\"step N STEP: FAILED reason\"); it stops at the first step that FAILED.\n"
         "\n"
         "Steps (sizes and offsets take k, m, g, t suffixes; the k-th register step names\n"
         "its region h<k-1>):\n"
         "  register:OFFSET:LENGTH:r|w|rw          expose a LUN range\n"
         "  write:hN:OFFSET:pattern:SEED:LEN       RDMA WRITE of the pattern into region hN\n"
         "  write:hN:OFFSET:file:PATH              RDMA WRITE of a file's bytes\n"
         "  write-flush:hN:OFFSET:pattern:SEED:LEN (or :file:PATH) RDMA WRITE, then the\n"
         "                                         one-sided flush of --remote-flush\n"
         "  read:hN:OFFSET:LEN:verify-pattern:SEED RDMA READ, checked against the pattern\n"
         "  read:hN:OFFSET:LEN:out:PATH            RDMA READ into a file\n"
         "  commit:hN  commit:hN:OFFSET:LEN        COMMIT the region or a range of it\n"
         "  raf:hN:OFFSET:LEN                      read-after-write flush of a range\n"
         "  unregister:hN                          UNREGISTER\n"
         "  save-handle:hN:PATH                    write addr, rkey, length to PATH\n"
         "  write-raw:PATH:OFFSET:pattern:SEED:LEN RDMA WRITE through a saved handle,\n"
         "                                         unchecked (another connection's, say)\n"
         "  sleep:SECONDS\n"
         "Append :expect=refused to a step that must fail.\n"
      << describe()
      << "\n"
         "Exit status: 0 every step behaved as expected, 1 otherwise (or the connection\n"
         "failed), 2 invalid command line.\n";
  return out.str();
}

std::expected<ParseOutcome, std::string> parse_command_line(std::span<const std::string> args) {
  auto parsed = text::parse_command_line(args, describe(), "step");
  if (!parsed) return std::unexpected(parsed.error());
  const po::variables_map& vm = *parsed;
  if (vm.count("help")) return HelpRequested{usage_text()};

  ToolOptions o;
  for (const char* required : {"address", "initiator", "target"})
    if (!vm.count(required)) return std::unexpected(std::string("--") + required + " is required");
  o.client.address = vm["address"].as<std::string>();
  o.client.initiator_name = vm["initiator"].as<std::string>();
  o.client.target_name = vm["target"].as<std::string>();
  if (vm.count("port")) o.client.port = vm["port"].as<std::uint16_t>();
  if (vm.count("lun")) o.client.lun = vm["lun"].as<std::uint64_t>();
  if (vm.count("chap-user")) o.client.chap_user = vm["chap-user"].as<std::string>();
  if (vm.count("chap-secret")) o.client.chap_secret = vm["chap-secret"].as<std::string>();
  if (vm.count("chap-secret-file"))
    o.chap_secret_file = vm["chap-secret-file"].as<std::string>();
  if (vm.count("chap-secret") && vm.count("chap-secret-file"))
    return std::unexpected("--chap-secret and --chap-secret-file: give one of them");
  if ((vm.count("chap-secret") || vm.count("chap-secret-file")) && !vm.count("chap-user"))
    return std::unexpected(std::string(vm.count("chap-secret") ? "--chap-secret" : "--chap-secret-file") +
                           " needs --chap-user");
  if (o.chap_secret_file.empty() && vm.count("chap-secret-file"))
    return std::unexpected("--chap-secret-file needs a file name");
  if (vm.count("timeout")) {
    const double t = vm["timeout"].as<double>();
    if (!(t > 0) || !std::isfinite(t) || t > 86400)
      return std::unexpected("--timeout must be > 0 seconds (and at most a day)");
    o.client.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(t * 1000)));
  }
  if (vm.count("poll-us")) {
    const std::uint32_t n = vm["poll-us"].as<std::uint32_t>();
    if (n > 10000) return std::unexpected("--poll-us must be 0 to 10000");
    o.client.poll = std::chrono::microseconds(n);
  }
  if (vm.count("expect-connect")) {
    const auto& e = vm["expect-connect"].as<std::string>();
    if (e == "refused")
      o.expect_connect_refused = true;
    else if (e != "ok")
      return std::unexpected("--expect-connect must be 'ok' or 'refused'");
  }

  o.bench = vm.count("bench") != 0;
  o.json = vm.count("json") != 0;
  auto size_option = [&](const char* name, std::uint64_t& into) -> std::expected<void, std::string> {
    if (!vm.count(name)) return {};
    auto v = text::parse_size(vm[name].as<std::string>());
    if (!v) return std::unexpected(std::string("--") + name + ": " + v.error());
    into = *v;
    return {};
  };
  for (auto [name, into] : {std::pair<const char*, std::uint64_t*>{"size", &o.bench_options.size},
                            {"region", &o.bench_options.region},
                            {"offset", &o.bench_options.offset}})
    if (auto s = size_option(name, *into); !s) return std::unexpected(s.error());
  if (vm.count("runtime")) {
    const double t = vm["runtime"].as<double>();
    if (!(t > 0) || !std::isfinite(t) || t > 86400)
      return std::unexpected("--runtime must be > 0 seconds (and at most a day)");
    o.bench_options.runtime =
        std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(t * 1e6)));
    o.bench_options.count = kUnlimitedCount;
  }
  if (vm.count("count")) o.bench_options.count = vm["count"].as<std::uint64_t>();
  if (vm.count("remote-flush")) {
    const auto& m = vm["remote-flush"].as<std::string>();
    bool known = false;
    for (FlushMethod f : {FlushMethod::kAuto, FlushMethod::kReadAfterWrite, FlushMethod::kRdmaFlush})
      if (m == to_string(f)) {
        o.client.flush_method = f;
        known = true;
      }
    if (!known)
      return std::unexpected("--remote-flush must be 'auto', 'read-after-write' or 'rdma-flush'");
  }
  const bool bench_tuned = vm.count("size") || vm.count("region") || vm.count("offset") ||
                           vm.count("count") || vm.count("runtime") || vm.count("json");
  if (bench_tuned && !o.bench)
    return std::unexpected("--size, --count, --runtime, --region, --offset and --json need --bench");
  if (o.bench) {
    const BenchOptions& b = o.bench_options;
    if (b.size == 0 || b.count == 0) return std::unexpected("--size and --count must be > 0");
    if (b.region < b.size) return std::unexpected("--region must hold at least one --size write");
  }

  if (vm.count("step")) {
    for (const auto& text : vm["step"].as<std::vector<std::string>>()) {
      auto step = parse_step(text);
      if (!step) return std::unexpected(step.error());
      o.steps.push_back(std::move(*step));
    }
  }
  // No steps at all: connect, report, disconnect (a reachability check).
  if (o.bench && !o.steps.empty()) return std::unexpected("--bench takes no steps");
  if (o.bench && o.expect_connect_refused)
    return std::unexpected("--bench needs a connection: not with --expect-connect=refused");
  return o;
}

}  // namespace tgt_pmem::push::tool
