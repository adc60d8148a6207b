// SPDX-License-Identifier: GPL-2.0-only
// Text and JSON renderings of a run (see report.h).
#include "tgt_pmem/load/report.h"

#include <cstdio>
#include <sstream>

namespace tgt_pmem::load {
namespace {

struct Quantile {
  const char* text_header;
  const char* json_key;
  double p;
};
constexpr Quantile kQuantiles[] = {
    {"p50", "p50", 50}, {"p90", "p90", 90}, {"p99", "p99", 99}, {"p99.9", "p99_9", 99.9}};

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string us(std::uint64_t ns) { return fixed(static_cast<double>(ns) / 1000.0, 1); }

const char* access_name(AccessPattern a) {
  return a == AccessPattern::kRandom ? "random" : "sequential";
}

OpStats total_of(const RunReport& r) {
  OpStats t;
  t.ios = r.read.ios + r.write.ios;
  t.bytes = r.read.bytes + r.write.bytes;
  t.latency_ns.merge(r.read.latency_ns);
  t.latency_ns.merge(r.write.latency_ns);
  return t;
}

std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

void text_row(std::ostringstream& out, const char* name, const OpStats& s, double elapsed) {
  out << pad_left(name, 5) << pad_left(std::to_string(s.ios), 11)
      << pad_left(fixed(iops(s, elapsed), 0), 10) << pad_left(fixed(mib_per_s(s, elapsed), 1), 9);
  if (s.ios == 0) {
    for (int i = 0; i < 5; ++i) out << pad_left("-", 9);
  } else {
    for (const auto& q : kQuantiles) out << pad_left(us(s.latency_ns.percentile(q.p)), 9);
    out << pad_left(us(s.latency_ns.max()), 9);
  }
  out << '\n';
}

void json_op(std::ostringstream& out, const char* name, const OpStats& s, double elapsed,
             bool with_latency) {
  out << "  " << json_quote(name) << ": {\"ios\": " << s.ios << ", \"bytes\": " << s.bytes
      << ", \"iops\": " << fixed(iops(s, elapsed), 1)
      << ", \"mib_s\": " << fixed(mib_per_s(s, elapsed), 3);
  if (with_latency) {
    const auto& h = s.latency_ns;
    out << ",\n    \"latency_us\": {\"min\": " << us(h.min())
        << ", \"mean\": " << fixed(h.mean() / 1000.0, 1);
    for (const auto& q : kQuantiles) out << ", \"" << q.json_key << "\": " << us(h.percentile(q.p));
    out << ", \"max\": " << us(h.max()) << "}";
  }
  out << "}";
}

}  // namespace

double iops(const OpStats& s, double elapsed_s) {
  return elapsed_s > 0 ? static_cast<double>(s.ios) / elapsed_s : 0.0;
}

double mib_per_s(const OpStats& s, double elapsed_s) {
  return elapsed_s > 0 ? static_cast<double>(s.bytes) / (1024.0 * 1024.0) / elapsed_s : 0.0;
}


std::string format_text(const RunReport& r) {
  const auto& o = r.options;
  std::ostringstream out;
  out << "target   " << o.url << '\n'
      << "LUN      " << r.lun_blocks << " blocks of " << r.lun_block_size << " B ("
      << format_size(r.lun_blocks * r.lun_block_size) << "); region " << format_size(r.region_size)
      << " at offset " << format_size(r.region_offset) << '\n'
      << "workload " << access_name(o.access) << ' ' << format_size(o.block_size) << ", "
      << o.read_percent << "% read, QD " << o.queue_depth << ", FUA " << (o.fua ? "on" : "off")
      << ", verify " << (o.verify ? "on" : "off") << ", seed " << r.seed << '\n'
      << "measured " << fixed(r.elapsed_s, 2) << " s";
  if (o.ramp_s > 0) out << " after a " << fixed(o.ramp_s, 1) << " s ramp";
  if (r.interrupted) out << " (interrupted)";
  out << "\n\n"
      << "   op        I/Os      IOPS    MiB/s  latency in us:\n"
      << pad_left("", 35);
  for (const auto& q : kQuantiles) out << pad_left(q.text_header, 9);
  out << pad_left("max", 9) << '\n';
  text_row(out, "read", r.read, r.elapsed_s);
  text_row(out, "write", r.write, r.elapsed_s);
  text_row(out, "total", total_of(r), r.elapsed_s);
  out << '\n';
  if (o.verify) {
    out << "verify   " << r.verify.blocks_checked << " blocks checked ("
        << r.verify.blocks_unknown << " not written during the run: weak check), "
        << r.verify.errors << " mismatch" << (r.verify.errors == 1 ? "" : "es") << '\n';
    for (const auto& e : r.verify.first_errors) out << "  MISMATCH " << e << '\n';
    if (r.verify.errors > r.verify.first_errors.size()) {
      out << "  ... and " << (r.verify.errors - r.verify.first_errors.size()) << " more\n";
    }
  }
  if (r.io_error) out << "error    " << *r.io_error << '\n';
  out << "result   " << (run_succeeded(r) ? "OK" : "FAILED") << '\n';
  return out.str();
}

std::string format_json(const RunReport& r) {
  const auto& o = r.options;
  std::ostringstream out;
  out << "{\n  \"ok\": " << (run_succeeded(r) ? "true" : "false") << ",\n"
      << "  \"url\": " << json_quote(o.url) << ",\n"
      << "  \"lun\": {\"block_size\": " << r.lun_block_size << ", \"blocks\": " << r.lun_blocks
      << "},\n"
      << "  \"region\": {\"offset\": " << r.region_offset << ", \"size\": " << r.region_size
      << "},\n"
      << "  \"workload\": {\"access\": " << json_quote(access_name(o.access))
      << ", \"block_size\": " << o.block_size << ", \"read_percent\": " << o.read_percent
      << ", \"queue_depth\": " << o.queue_depth << ", \"fua\": " << (o.fua ? "true" : "false")
      << ", \"verify\": " << (o.verify ? "true" : "false") << ", \"seed\": " << r.seed
      << ", \"duration_s\": " << (o.duration_s ? fixed(*o.duration_s, 3) : "null")
      << ", \"ios\": " << (o.io_count ? std::to_string(*o.io_count) : "null")
      << ", \"ramp_s\": " << fixed(o.ramp_s, 3) << "},\n"
      << "  \"elapsed_s\": " << fixed(r.elapsed_s, 6) << ",\n"
      << "  \"interrupted\": " << (r.interrupted ? "true" : "false") << ",\n";
  json_op(out, "read", r.read, r.elapsed_s, true);
  out << ",\n";
  json_op(out, "write", r.write, r.elapsed_s, true);
  out << ",\n";
  json_op(out, "total", total_of(r), r.elapsed_s, true);
  out << ",\n  \"verify\": {\"enabled\": " << (o.verify ? "true" : "false")
      << ", \"blocks_checked\": " << r.verify.blocks_checked
      << ", \"blocks_unknown\": " << r.verify.blocks_unknown
      << ", \"errors\": " << r.verify.errors << ", \"first_errors\": [";
  for (std::size_t i = 0; i < r.verify.first_errors.size(); ++i) {
    out << (i ? ", " : "") << json_quote(r.verify.first_errors[i]);
  }
  out << "]},\n  \"error\": " << (r.io_error ? json_quote(*r.io_error) : "null") << "\n}\n";
  return out.str();
}

std::string format_json_failure(std::string_view message) {
  return "{\"ok\": false, \"error\": " + json_quote(message) + "}\n";
}

}  // namespace tgt_pmem::load
