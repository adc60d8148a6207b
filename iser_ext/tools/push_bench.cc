// SPDX-License-Identifier: GPL-2.0-only
#include "push_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "push_steps.h"
#include "tgt_pmem/text/size.h"

namespace tgt_pmem::push::tool {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A figure for the JSON line, rounded to its precision: nlohmann writes the shortest form that
// reads back as this double (20.5, not 20.50; 20.456 rounded to 2 decimals is 20.46).
double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace

BenchStats summarize(std::string method, std::span<const double> latencies_us, double total_seconds,
                     std::uint64_t size) {
  BenchStats s;
  s.method = std::move(method);
  s.count = latencies_us.size();
  if (latencies_us.empty()) return s;
  std::vector<double> sorted(latencies_us.begin(), latencies_us.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  s.mean_us = sum / static_cast<double>(sorted.size());
  s.p50_us = percentile(sorted, 50);
  s.p99_us = percentile(sorted, 99);
  if (total_seconds > 0) {
    s.iops = static_cast<double>(s.count) / total_seconds;
    s.mib_per_s = s.iops * static_cast<double>(size) / (1024.0 * 1024.0);
  }
  return s;
}

std::string format_table(std::span<const BenchStats> rows, const BenchOptions& o) {
  char line[256];
  std::string per_method = std::to_string(o.count) + " per method";
  if (o.runtime.count() != 0) {
    per_method = fixed(std::chrono::duration<double>(o.runtime).count(), 1) + " s per method";
    if (o.count != kUnlimitedCount) per_method += " (at most " + std::to_string(o.count) + ")";
  }
  std::string out = "durable writes of " + text::format_size(o.size) + ", " + per_method +
                    ", one at a time, over a " + text::format_size(o.region) + " region\n";
  std::snprintf(line, sizeof line, "%-24s %10s %10s %10s %10s %10s\n", "method", "mean us",
                "p50 us", "p99 us", "IOPS", "MiB/s");
  out += line;
  for (const BenchStats& r : rows) {
    std::snprintf(line, sizeof line, "%-24s %10.1f %10.1f %10.1f %10.0f %10.1f\n", r.method.c_str(),
                  r.mean_us, r.p50_us, r.p99_us, r.iops, r.mib_per_s);
    out += line;
  }
  return out;
}

std::string format_json(std::span<const BenchStats> rows, const BenchOptions& o) {
  nlohmann::ordered_json j;
  j["tool"] = "tgtpmem-push";
  j["mode"] = "bench";
  j["size"] = o.size;
  j["count"] = o.count;
  j["region"] = o.region;
  if (o.runtime.count() != 0)
    j["runtime_s"] = rounded(std::chrono::duration<double>(o.runtime).count(), 3);
  auto& results = j["results"] = nlohmann::ordered_json::array();
  for (const BenchStats& r : rows) {
    nlohmann::ordered_json row;
    row["method"] = r.method;
    row["count"] = r.count;
    row["mean_us"] = rounded(r.mean_us, 2);
    row["p50_us"] = rounded(r.p50_us, 2);
    row["p99_us"] = rounded(r.p99_us, 2);
    row["iops"] = rounded(r.iops, 1);
    row["mib_s"] = rounded(r.mib_per_s, 2);
    results.push_back(std::move(row));
  }
  // One compact line: the e2e scenarios pick the last line that starts with '{'.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

std::expected<std::vector<BenchStats>, std::string> run_bench(Client& client,
                                                              const BenchOptions& o) {
  if (o.size == 0 || o.count == 0 || o.region < o.size)
    return std::unexpected("--size and --count must be > 0 and --region at least --size");
  auto region = client.register_region(o.offset, o.region, kRead | kWrite);
  if (!region) return std::unexpected("register: " + region.error().message());

  std::vector<std::byte> data(o.size);
  fill_pattern(1, data);
  const std::uint64_t slots = o.region / o.size;

  // The one-sided method: ClientOptions::flush_method for this region (--remote-flush).
  // Asked for by name where it is not available, the bench fails before it starts.
  const auto flush_method = client.flush_method(*region);
  if (!flush_method) {
    const std::string why = flush_method.error().message();
    (void)client.unregister(*region);
    return std::unexpected("remote flush: " + why);
  }
  const std::string flush_row = "write+" + std::string(to_string(*flush_method));

  struct Method {
    const char* name;
    Result<void> (Client::*write)(const Region&, std::uint64_t, std::span<const std::byte>);
  };
  const Method methods[] = {{"write+commit", &Client::write_and_commit},
                            {flush_row.c_str(), &Client::write_and_flush}};
  std::vector<BenchStats> rows;
  std::vector<double> latencies;
  latencies.reserve(std::min<std::uint64_t>(o.count, 1u << 20));
  for (const Method& m : methods) {
    latencies.clear();
    const auto start = Clock::now();
    const auto deadline = start + o.runtime;
    for (std::uint64_t i = 0; i < o.count; ++i) {
      if (o.runtime.count() != 0 && Clock::now() >= deadline) break;
      const std::uint64_t offset = (i % slots) * o.size;
      const auto t0 = Clock::now();
      if (auto w = (client.*m.write)(*region, offset, data); !w)
        return std::unexpected(std::string(m.name) + " #" + std::to_string(i) + ": " +
                               w.error().message());
      latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rows.push_back(summarize(m.name, latencies, seconds, o.size));
  }
  if (auto u = client.unregister(*region); !u)
    return std::unexpected("unregister: " + u.error().message());
  return rows;
}

}  // namespace tgt_pmem::push::tool
