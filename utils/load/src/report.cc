// SPDX-License-Identifier: GPL-2.0-only
// Text and JSON renderings of a run (see report.h).
#include "tgt_pmem/load/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

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

// A figure for the JSON report, rounded to the precision the text shows: nlohmann writes the
// shortest form that reads back as this double, so 123.456 µs rounded to 1 decimal is 123.5.
double rounded(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

double us_json(std::uint64_t ns) { return rounded(static_cast<double>(ns) / 1000.0, 1); }

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

nlohmann::ordered_json json_op(const OpStats& s, double elapsed) {
  nlohmann::ordered_json j;
  j["ios"] = s.ios;
  j["bytes"] = s.bytes;
  j["iops"] = rounded(iops(s, elapsed), 1);
  j["mib_s"] = rounded(mib_per_s(s, elapsed), 3);
  const auto& h = s.latency_ns;
  auto& lat = j["latency_us"];
  lat["min"] = us_json(h.min());
  lat["mean"] = rounded(h.mean() / 1000.0, 1);
  for (const auto& q : kQuantiles) lat[q.json_key] = us_json(h.percentile(q.p));
  lat["max"] = us_json(h.max());
  return j;
}

// The report's JSON text: indented by 2 for a person reading it, one newline at the end. Text
// that is not UTF-8 (a target's message) is written with U+FFFD rather than failing.
std::string json_text(const nlohmann::ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
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
  nlohmann::ordered_json j;
  j["ok"] = run_succeeded(r);
  j["url"] = o.url;
  j["lun"] = {{"block_size", r.lun_block_size}, {"blocks", r.lun_blocks}};
  j["region"] = {{"offset", r.region_offset}, {"size", r.region_size}};
  auto& w = j["workload"];
  w["access"] = access_name(o.access);
  w["block_size"] = o.block_size;
  w["read_percent"] = o.read_percent;
  w["queue_depth"] = o.queue_depth;
  w["fua"] = o.fua;
  w["verify"] = o.verify;
  w["seed"] = r.seed;
  w["duration_s"] = o.duration_s ? nlohmann::ordered_json(rounded(*o.duration_s, 3)) : nullptr;
  w["ios"] = o.io_count ? nlohmann::ordered_json(*o.io_count) : nullptr;
  w["ramp_s"] = rounded(o.ramp_s, 3);
  j["elapsed_s"] = rounded(r.elapsed_s, 6);
  j["interrupted"] = r.interrupted;
  j["read"] = json_op(r.read, r.elapsed_s);
  j["write"] = json_op(r.write, r.elapsed_s);
  j["total"] = json_op(total_of(r), r.elapsed_s);
  j["verify"] = {{"enabled", o.verify},
                 {"blocks_checked", r.verify.blocks_checked},
                 {"blocks_unknown", r.verify.blocks_unknown},
                 {"errors", r.verify.errors},
                 {"first_errors", r.verify.first_errors}};
  j["error"] = r.io_error ? nlohmann::ordered_json(*r.io_error) : nullptr;
  return json_text(j, 2);
}

std::string format_json_failure(std::string_view message) {
  return json_text({{"ok", false}, {"error", std::string(message)}}, -1);
}

}  // namespace tgt_pmem::load
