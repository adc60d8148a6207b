// SPDX-License-Identifier: GPL-2.0-only
// Command-line parsing for tgtpmem-load (see options.h).
#include "tgt_pmem/load/options.h"

#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <vector>

#include "tgt_pmem/text/command_line.h"

namespace tgt_pmem::load {
namespace po = boost::program_options;

namespace {

constexpr unsigned kMaxQueueDepth = 1024;
constexpr std::uint64_t kMinBlock = 512;
constexpr std::uint64_t kMaxBufferBytes = std::uint64_t{4} << 30;

po::options_description describe() {
  po::options_description target("Target");
  target.add_options()
      ("url,u", po::value<std::string>()->value_name("URL"),
       "the LUN to drive, iscsi://HOST[:PORT]/IQN/LUN; may also be given as the only "
       "positional argument. A ':' in the IQN may be written as %3A.")
      ("initiator-name", po::value<std::string>()->value_name("IQN"),
       "initiator IQN to log in with (default iqn.2024-01.org.tgt-pmem:load)")
      ("timeout", po::value<unsigned>()->value_name("SEC"),
       "give up on the login or on any command after SEC seconds (default 30)");

  po::options_description workload("Workload");
  workload.add_options()
      ("queue-depth,q", po::value<unsigned>()->value_name("N"),
       "commands kept in flight, 1..1024 (default 16)")
      ("block-size,b", po::value<std::string>()->value_name("SIZE"),
       "bytes per I/O, a multiple of 512 and of the LUN's block size (default 4k)")
      ("read-percent,r", po::value<unsigned>()->value_name("PCT"),
       "share of reads, 0..100; the rest are writes (default 100: read only)")
      ("access,a", po::value<std::string>()->value_name("MODE"),
       "'random' (uniform over the region, the default) or 'sequential' (wrapping at the "
       "region's end)")
      ("fua", "set FUA on every WRITE(16): each write is durable when acknowledged")
      ("offset", po::value<std::string>()->value_name("SIZE"),
       "start of the region to use, bytes (default 0)")
      ("size", po::value<std::string>()->value_name("SIZE"),
       "length of the region to use, bytes (default: up to the end of the LUN)")
      ("seed", po::value<std::uint64_t>()->value_name("N"),
       "seed of the I/O sequence, to repeat a run (default: a fresh one, printed)");

  po::options_description stop("Length (the run stops at whichever comes first)");
  stop.add_options()
      ("duration,t", po::value<double>()->value_name("SEC"),
       "measure for SEC seconds (default 10 when --ios is not given)")
      ("ios,n", po::value<std::uint64_t>()->value_name("N"), "measure N I/Os")
      ("ramp", po::value<double>()->value_name("SEC"),
       "run SEC seconds before measuring, unreported (default 0)");

  po::options_description check("Checking and output");
  check.add_options()
      ("verify",
       "stamp every written block with its LBA, a generation and a run id, and check every "
       "block read against the last acknowledged write (in-flight I/Os never overlap in this "
       "mode). Blocks not written during the run get a weaker check (their stamp, if any, must "
       "name the right LBA).")
      ("json", "print the report as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");

  po::options_description all;
  all.add(target).add(workload).add(stop).add(check);
  return all;
}

template <typename T>
T get_or(const po::variables_map& vm, const char* name, T fallback) {
  return vm.count(name) ? vm[name].as<T>() : fallback;
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: tgtpmem-load [OPTIONS] iscsi://HOST[:PORT]/TARGET-IQN/LUN\n"
         "\n"
         "Drives one iSCSI LUN with READ(16)/WRITE(16) at a fixed queue depth through\n"
         "libiscsi and reports IOPS, MiB/s and latency percentiles (p50, p90, p99, p99.9,\n"
         "max) for reads and writes separately. Latency is measured per command, from\n"
         "queueing it in libiscsi to its completion callback.\n"
         "\n"
         "SIZE values accept the binary suffixes k, m, g, t (4k = 4096).\n"
      << describe()
      << "\n"
         "Exit status:\n"
         "  0  the run completed without failed commands or verification errors\n"
         "  1  a command failed (the SCSI status and sense key/ASC/ASCQ are printed) or\n"
         "     data verification found mismatching blocks\n"
         "  2  invalid command line\n"
         "  3  could not start: bad URL, connection refused, login rejected (e.g. unknown\n"
         "     target name), no such LUN, or a region that does not fit the LUN\n"
         "\n"
         "Examples:\n"
         "  tgtpmem-load -q 16 -b 4k -r 0 -t 10 iscsi://127.0.0.1:3260/iqn.2024-01.org.x:t1/1\n"
         "  tgtpmem-load -r 70 --verify --size 256m -t 5 --json iscsi://127.0.0.1/iqn.x:t1/1\n";
  return out.str();
}

std::expected<ParseOutcome, std::string> parse_options(std::span<const std::string> args) {
  auto parsed = text::parse_command_line(args, describe(), "positional-url");
  if (!parsed) return std::unexpected(parsed.error());
  const po::variables_map& vm = *parsed;
  if (vm.count("help")) return HelpRequested{usage_text()};

  LoadOptions o;
  std::vector<std::string> urls;
  if (vm.count("url")) urls.push_back(vm["url"].as<std::string>());
  if (vm.count("positional-url")) {
    for (const auto& u : vm["positional-url"].as<std::vector<std::string>>()) urls.push_back(u);
  }
  if (urls.empty()) return std::unexpected("no target URL given (iscsi://HOST[:PORT]/IQN/LUN)");
  if (urls.size() > 1) return std::unexpected("more than one target URL given");
  o.url = urls.front();
  if (!o.url.starts_with("iscsi://")) {
    return std::unexpected("target URL '" + o.url + "' does not start with iscsi://");
  }

  o.initiator_name = get_or<std::string>(vm, "initiator-name", o.initiator_name);
  if (o.initiator_name.empty()) return std::unexpected("--initiator-name is empty");
  o.timeout_s = get_or<unsigned>(vm, "timeout", o.timeout_s);
  if (o.timeout_s == 0) return std::unexpected("--timeout must be at least 1 second");

  o.queue_depth = get_or<unsigned>(vm, "queue-depth", o.queue_depth);
  if (o.queue_depth < 1 || o.queue_depth > kMaxQueueDepth) {
    return std::unexpected("--queue-depth must be 1.." + std::to_string(kMaxQueueDepth));
  }
  if (vm.count("block-size")) {
    auto bs = parse_size(vm["block-size"].as<std::string>());
    if (!bs) return std::unexpected("--block-size: " + bs.error());
    o.block_size = *bs;
  }
  if (o.block_size < kMinBlock || o.block_size % kMinBlock != 0) {
    return std::unexpected("--block-size must be a non-zero multiple of 512");
  }
  if (o.block_size > (std::uint64_t{1} << 30)) {
    return std::unexpected("--block-size must be at most 1 GiB");
  }
  // Every queue position owns a buffer of block_size bytes.
  if (o.block_size * o.queue_depth > kMaxBufferBytes) {
    return std::unexpected("--queue-depth x --block-size must be at most 4 GiB of buffers");
  }
  o.read_percent = get_or<unsigned>(vm, "read-percent", o.read_percent);
  if (o.read_percent > 100) return std::unexpected("--read-percent must be 0..100");
  if (vm.count("access")) {
    const auto& a = vm["access"].as<std::string>();
    if (a == "random" || a == "rand") {
      o.access = AccessPattern::kRandom;
    } else if (a == "sequential" || a == "seq") {
      o.access = AccessPattern::kSequential;
    } else {
      return std::unexpected("--access must be 'random' or 'sequential', not '" + a + "'");
    }
  }
  o.fua = vm.count("fua") != 0;
  if (vm.count("offset")) {
    auto off = parse_size(vm["offset"].as<std::string>());
    if (!off) return std::unexpected("--offset: " + off.error());
    if (*off % kMinBlock != 0) return std::unexpected("--offset must be a multiple of 512");
    o.offset = *off;
  }
  if (vm.count("size")) {
    auto size = parse_size(vm["size"].as<std::string>());
    if (!size) return std::unexpected("--size: " + size.error());
    if (*size < o.block_size) {
      return std::unexpected("--size must hold at least one I/O of --block-size bytes");
    }
    o.size = *size;
  }
  if (vm.count("seed")) o.seed = vm["seed"].as<std::uint64_t>();

  if (vm.count("duration")) {
    const double d = vm["duration"].as<double>();
    if (!(d > 0) || !std::isfinite(d)) return std::unexpected("--duration must be > 0 seconds");
    o.duration_s = d;
  }
  if (vm.count("ios")) {
    const auto n = vm["ios"].as<std::uint64_t>();
    if (n == 0) return std::unexpected("--ios must be at least 1");
    o.io_count = n;
  }
  if (!o.duration_s && !o.io_count) o.duration_s = 10.0;
  o.ramp_s = get_or<double>(vm, "ramp", 0.0);
  if (!(o.ramp_s >= 0) || !std::isfinite(o.ramp_s)) {
    return std::unexpected("--ramp must be >= 0 seconds");
  }
  o.verify = vm.count("verify") != 0;
  o.json = vm.count("json") != 0;
  return o;
}

}  // namespace tgt_pmem::load
