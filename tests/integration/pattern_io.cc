// SPDX-License-Identifier: GPL-2.0-only
// A libiscsi client for the integration tests: writes and verifies known patterns, and runs a
// write load that logs which writes the target acknowledged, so that a test can kill tgtd
// at any moment and then check that every acknowledged write survived.
//
//   pattern_io write  URL LBA BLOCKS SEED [fua]
//   pattern_io verify URL LBA BLOCKS SEED        exit 1 on the first mismatch
//   pattern_io churn  URL LOG SECONDS SEED REGION_BLOCKS
//       random writes of 1-8 blocks in [0, REGION_BLOCKS); before each: "P lba n gen", after
//       GOOD status: "A lba n gen"; stops at the first transport error (tgtd gone) or time.
//   pattern_io check  URL LOG [torn-ok]          exit 1 if an acknowledged write is missing;
//       a block under an unacknowledged write must hold one of the generations written to it,
//       or anything with torn-ok (the raw layout: a write cut short is not atomic)
//   pattern_io wce    URL                        prints the caching mode page's WCE bit
//   pattern_io sense  read|write|write-fua|sync URL LBA BLOCKS
//       one READ(16), WRITE(16) (with FUA) or SYNCHRONIZE CACHE(16); prints "GOOD" or
//       "CHECK key=0x3 asc=0x1100 info=LBA" (info=- if the sense has no valid INFORMATION)
//   pattern_io set-wce URL 0|1                  MODE SELECT of the caching page with WCE set
//       so (as Linux does for `echo "write through" > .../cache_type`); prints like sense
//
// Exit codes: 0 ok, 1 data mismatch, 2 usage or connection error, 3 SCSI error.
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Connection {
  iscsi_context* ctx = nullptr;
  int lun = 0;
  std::uint32_t block_size = 0;
  std::uint64_t blocks = 0;
  ~Connection() {
    if (ctx) {
      iscsi_logout_sync(ctx);
      iscsi_destroy_context(ctx);
    }
  }
};

// A UNIT ATTENTION (a new or restarted target reports its power-on/reset once) is reported,
// not executed: the command is sent again.
bool unit_attention(const scsi_task* t) {
  return t && t->status == SCSI_STATUS_CHECK_CONDITION &&
         t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

bool connect(Connection& c, const char* url_text) {
  c.ctx = iscsi_create_context("iqn.2026-11.org.tgt-pmem:pattern-io");
  if (!c.ctx) return false;
  iscsi_url* url = iscsi_parse_full_url(c.ctx, url_text);
  if (!url) {
    std::fprintf(stderr, "pattern_io: bad URL %s: %s\n", url_text, iscsi_get_error(c.ctx));
    return false;
  }
  iscsi_set_targetname(c.ctx, url->target);
  iscsi_set_session_type(c.ctx, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(c.ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
  // A test kills tgtd on purpose: see the error instead of reconnecting for ever.
  iscsi_set_noautoreconnect(c.ctx, 1);
  iscsi_set_timeout(c.ctx, 30);
  c.lun = url->lun;
  const bool ok = iscsi_full_connect_sync(c.ctx, url->portal, url->lun) == 0;
  if (!ok) std::fprintf(stderr, "pattern_io: connect: %s\n", iscsi_get_error(c.ctx));
  iscsi_destroy_url(url);
  if (!ok) return false;
  scsi_task* t = nullptr;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (t) scsi_free_scsi_task(t);
    t = iscsi_readcapacity16_sync(c.ctx, c.lun);
    if (!unit_attention(t)) break;
  }
  if (!t || t->status != SCSI_STATUS_GOOD) {
    std::fprintf(stderr, "pattern_io: READ CAPACITY(16) failed\n");
    if (t) scsi_free_scsi_task(t);
    return false;
  }
  auto* rc = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(t));
  c.block_size = rc->block_length;
  c.blocks = rc->returned_lba + 1;
  scsi_free_scsi_task(t);
  return true;
}

void fill(std::vector<unsigned char>& buf, std::uint64_t lba, std::uint32_t bs,
          std::uint64_t gen) {
  for (std::size_t off = 0; off < buf.size(); off += 8) {
    const std::uint64_t block = lba + off / bs;
    const std::uint64_t v = (block << 24) ^ (gen * 0x9E3779B97F4A7C15ull) ^ (off % bs);
    std::memcpy(&buf[off], &v, 8);
  }
}

// One WRITE(16); returns -1 on a transport error, 0 on GOOD, 1 on a SCSI error.
int write_blocks(Connection& c, std::uint64_t lba, std::uint32_t n, std::uint64_t gen, bool fua) {
  std::vector<unsigned char> buf(std::size_t{n} * c.block_size);
  fill(buf, lba, c.block_size, gen);
  scsi_task* t = nullptr;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (t) scsi_free_scsi_task(t);
    t = iscsi_write16_sync(c.ctx, c.lun, lba, buf.data(), buf.size(), c.block_size, 0, 0,
                           fua ? 1 : 0, 0, 0);
    if (!unit_attention(t)) break;
  }
  // No task, or libiscsi's own ERROR/CANCELLED/TIMEOUT status: the connection is gone.
  if (!t || (t->status != SCSI_STATUS_GOOD && t->status != SCSI_STATUS_CHECK_CONDITION &&
             t->status != SCSI_STATUS_BUSY && t->status != SCSI_STATUS_RESERVATION_CONFLICT)) {
    if (t) scsi_free_scsi_task(t);
    return -1;
  }
  const int r = t->status == SCSI_STATUS_GOOD ? 0 : 1;
  if (r) std::fprintf(stderr, "pattern_io: WRITE(16) lba %llu: %s\n",
                      static_cast<unsigned long long>(lba), iscsi_get_error(c.ctx));
  scsi_free_scsi_task(t);
  return r;
}

// Reads n blocks at lba into out; false on any error.
bool read_blocks(Connection& c, std::uint64_t lba, std::uint32_t n, std::vector<unsigned char>& out) {
  scsi_task* t = nullptr;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (t) scsi_free_scsi_task(t);
    t = iscsi_read16_sync(c.ctx, c.lun, lba, n * c.block_size, c.block_size, 0, 0, 0, 0, 0);
    if (!unit_attention(t)) break;
  }
  if (!t || t->status != SCSI_STATUS_GOOD || t->datain.size != static_cast<int>(n * c.block_size)) {
    std::fprintf(stderr, "pattern_io: READ(16) lba %llu failed\n",
                 static_cast<unsigned long long>(lba));
    if (t) scsi_free_scsi_task(t);
    return false;
  }
  out.assign(t->datain.data, t->datain.data + t->datain.size);
  scsi_free_scsi_task(t);
  return true;
}

int cmd_write(Connection& c, std::uint64_t lba, std::uint64_t blocks, std::uint64_t seed, bool fua) {
  for (std::uint64_t done = 0; done < blocks;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(64, blocks - done));
    const int r = write_blocks(c, lba + done, n, seed, fua);
    if (r) return r < 0 ? 2 : 3;
    done += n;
  }
  return 0;
}

int cmd_verify(Connection& c, std::uint64_t lba, std::uint64_t blocks, std::uint64_t seed) {
  std::vector<unsigned char> got, want;
  for (std::uint64_t done = 0; done < blocks;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(64, blocks - done));
    if (!read_blocks(c, lba + done, n, got)) return 3;
    want.resize(got.size());
    fill(want, lba + done, c.block_size, seed);
    if (got != want) {
      std::size_t i = 0;
      while (got[i] == want[i]) ++i;
      std::fprintf(stderr, "pattern_io: mismatch at lba %llu byte %zu\n",
                   static_cast<unsigned long long>(lba + done + i / c.block_size),
                   i % c.block_size);
      return 1;
    }
    done += n;
  }
  return 0;
}

int cmd_churn(Connection& c, const char* log_path, double seconds, std::uint64_t seed,
              std::uint64_t region) {
  std::FILE* log = std::fopen(log_path, "a");
  if (!log) return 2;
  std::mt19937_64 rng(seed);
  region = std::min(region, c.blocks);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::uint64_t gen = seed << 32, acked = 0;
  while (std::chrono::steady_clock::now() < end) {
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 8);
    const std::uint64_t lba = rng() % (region - n);
    ++gen;
    std::fprintf(log, "P %llu %u %llu\n", static_cast<unsigned long long>(lba), n,
                 static_cast<unsigned long long>(gen));
    std::fflush(log);
    const int r = write_blocks(c, lba, n, gen, false);
    if (r < 0) break;  // the target went away: expected when a test kills it
    if (r > 0) {
      std::fclose(log);
      return 3;
    }
    std::fprintf(log, "A %llu %u %llu\n", static_cast<unsigned long long>(lba), n,
                 static_cast<unsigned long long>(gen));
    std::fflush(log);
    ++acked;
  }
  std::fclose(log);
  std::printf("churn: %llu writes acknowledged\n", static_cast<unsigned long long>(acked));
  return 0;
}

int cmd_check(Connection& c, const char* log_path, bool torn_ok) {
  // Per block: the generation of the last acknowledged write, and the generations of the
  // writes sent after it that were never acknowledged (the target died under them): each may
  // or may not have reached the medium, and on a layout without atomic blocks (torn_ok) it
  // may have reached it in part.
  struct State {
    std::uint64_t acked = 0;
    std::vector<std::uint64_t> unacked;
  };
  std::map<std::uint64_t, State> blocks;
  // The log grows by every round of a SIGKILL test (over a million lines by the hundredth)
  // and is read whole each round: fgets and sscanf.
  std::FILE* in = std::fopen(log_path, "r");
  if (!in) return 2;
  char line[128];
  while (std::fgets(line, sizeof line, in)) {
    char kind;
    unsigned long long lba, gen;
    unsigned n;
    if (std::sscanf(line, "%c %llu %u %llu", &kind, &lba, &n, &gen) != 4) continue;
    for (unsigned i = 0; i < n; ++i) {
      State& st = blocks[lba + i];
      if (kind == 'A') {
        st.acked = gen;
        st.unacked.clear();
      } else {
        st.unacked.push_back(gen);
      }
    }
  }
  std::fclose(in);
  // Read in runs of up to kRun blocks (one READ each, not one per block), then judge each
  // block of the run that has a promise.
  constexpr std::uint64_t kRun = 128;
  std::vector<unsigned char> got, want(c.block_size);
  std::uint64_t checked = 0, torn = 0;
  for (auto it = blocks.begin(); it != blocks.end();) {
    const std::uint64_t first = it->first;
    auto end = it;
    std::uint64_t last = first;
    while (end != blocks.end() && end->first < first + kRun) last = (end++)->first;
    if (!read_blocks(c, first, static_cast<std::uint32_t>(last - first + 1), got)) return 3;
    for (; it != end; ++it) {
      const auto& [block, st] = *it;
      if (st.acked == 0) continue;  // never acknowledged: nothing was promised
      const auto* at = got.data() + (block - first) * c.block_size;
      auto matches = [&](std::uint64_t gen) {
        fill(want, block, c.block_size, gen);
        return std::memcmp(at, want.data(), c.block_size) == 0;
      };
      bool ok = matches(st.acked);
      for (std::size_t i = 0; !ok && i < st.unacked.size(); ++i) ok = matches(st.unacked[i]);
      if (!ok && torn_ok && !st.unacked.empty()) {
        ++torn;  // an unacknowledged write torn by the kill: allowed on this layout
        ok = true;
      }
      if (!ok) {
        std::fprintf(stderr, "pattern_io: acknowledged write lost: lba %llu gen %llu\n",
                     static_cast<unsigned long long>(block), static_cast<unsigned long long>(st.acked));
        return 1;
      }
      ++checked;
    }
  }
  std::printf("check: %llu acknowledged blocks verified (%llu torn by an unacknowledged write)\n",
              static_cast<unsigned long long>(checked), static_cast<unsigned long long>(torn));
  return 0;
}

// MODE SENSE(6) of the caching page: the task (to free) and the page in it, or nullptr.
std::pair<scsi_task*, scsi_mode_page*> caching_page(Connection& c) {
  scsi_task* t = iscsi_modesense6_sync(c.ctx, c.lun, 1, SCSI_MODESENSE_PC_CURRENT,
                                       SCSI_MODEPAGE_CACHING, 0, 255);
  if (!t || t->status != SCSI_STATUS_GOOD) {
    if (t) scsi_free_scsi_task(t);
    return {nullptr, nullptr};
  }
  auto* ms = static_cast<scsi_mode_sense*>(scsi_datain_unmarshall(t));
  for (scsi_mode_page* p = ms ? ms->pages : nullptr; p; p = p->next)
    if (p->page_code == SCSI_MODEPAGE_CACHING) return {t, p};
  scsi_free_scsi_task(t);
  return {nullptr, nullptr};
}

int cmd_wce(Connection& c) {
  auto [t, page] = caching_page(c);
  if (!page) return 3;
  std::printf("%d\n", page->caching.wce);
  scsi_free_scsi_task(t);
  return 0;
}

// The INFORMATION field of fixed-format (0x70/0x71, VALID bit) or descriptor-format
// (0x72/0x73, descriptor type 0) sense data; -1 if there is none. libiscsi keeps the sense
// data, after its two-byte length, in datain.
long long sense_information(const scsi_task* t) {
  if (!t->datain.data || t->datain.size < 4) return -1;
  const unsigned char* s = t->datain.data + 2;
  const int n = std::min(t->datain.size - 2, (t->datain.data[0] << 8) | t->datain.data[1]);
  const int code = s[0] & 0x7f;
  if ((code == 0x70 || code == 0x71) && n >= 7 && (s[0] & 0x80))
    return (static_cast<long long>(s[3]) << 24) | (s[4] << 16) | (s[5] << 8) | s[6];
  if ((code == 0x72 || code == 0x73) && n >= 8) {
    for (int i = 8; i + 12 <= n; i += 2 + s[i + 1]) {
      if (s[i] != 0x00 || !(s[i + 2] & 0x80)) continue;
      long long v = 0;
      for (int k = 0; k < 8; ++k) v = (v << 8) | s[i + 4 + k];
      return v;
    }
  }
  return -1;
}

// Prints a task's outcome as "GOOD" or "CHECK key=... asc=... info=..."; frees it.
int print_status(scsi_task* t) {
  if (!t) return 2;
  int rc = 0;
  if (t->status == SCSI_STATUS_GOOD) {
    std::printf("GOOD\n");
  } else if (t->status == SCSI_STATUS_CHECK_CONDITION) {
    const long long info = sense_information(t);
    std::printf("CHECK key=0x%x asc=0x%04x info=", static_cast<unsigned>(t->sense.key),
                static_cast<unsigned>(t->sense.ascq));
    if (info < 0) std::printf("-\n"); else std::printf("%lld\n", info);
  } else {
    rc = 2;  // the connection is gone (tgtd died?)
  }
  scsi_free_scsi_task(t);
  return rc;
}

int cmd_sense(Connection& c, const std::string& what, std::uint64_t lba, std::uint32_t n) {
  std::vector<unsigned char> buf(std::size_t{n} * c.block_size);
  fill(buf, lba, c.block_size, 1);
  scsi_task* t = nullptr;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (t) scsi_free_scsi_task(t);
    if (what == "read")
      t = iscsi_read16_sync(c.ctx, c.lun, lba, n * c.block_size, c.block_size, 0, 0, 0, 0, 0);
    else if (what == "sync")
      t = iscsi_synchronizecache16_sync(c.ctx, c.lun, 0, 0, 0, 0);
    else
      t = iscsi_write16_sync(c.ctx, c.lun, lba, buf.data(), buf.size(), c.block_size, 0, 0,
                             what == "write-fua" ? 1 : 0, 0, 0);
    if (!unit_attention(t)) break;
  }
  return print_status(t);
}

int cmd_set_wce(Connection& c, int wce) {
  auto [t, page] = caching_page(c);
  if (!page) return 3;
  page->caching.wce = wce;
  page->ps = 0;  // reserved in MODE SELECT
  scsi_task* sel = iscsi_modeselect6_sync(c.ctx, c.lun, 1, 0, page);
  scsi_free_scsi_task(t);
  return print_status(sel);
}

}  // namespace

int main(int argc, char** argv) {
  // The tests kill tgtd under load: a write to its closed socket must be an error that the
  // churn mode counts as "target gone", not a SIGPIPE that kills this process.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  auto u64 = [&](int i) { return std::strtoull(argv[i], nullptr, 0); };
  Connection c;
  if ((mode == "write" && (argc == 6 || argc == 7)) || (mode == "verify" && argc == 6)) {
    if (!connect(c, argv[2])) return 2;
    if (mode == "write") return cmd_write(c, u64(3), u64(4), u64(5), argc == 7);
    return cmd_verify(c, u64(3), u64(4), u64(5));
  }
  if (mode == "churn" && argc == 7) {
    if (!connect(c, argv[2])) return 2;
    return cmd_churn(c, argv[3], std::strtod(argv[4], nullptr), u64(5), u64(6));
  }
  if (mode == "check" && (argc == 4 || (argc == 5 && std::string(argv[4]) == "torn-ok"))) {
    if (!connect(c, argv[2])) return 2;
    return cmd_check(c, argv[3], argc == 5);
  }
  if (mode == "sense" && argc == 6) {
    if (!connect(c, argv[3])) return 2;
    return cmd_sense(c, argv[2], u64(4), static_cast<std::uint32_t>(u64(5)));
  }
  if (mode == "wce" && argc == 3) {
    if (!connect(c, argv[2])) return 2;
    return cmd_wce(c);
  }
  if (mode == "set-wce" && argc == 4) {
    if (!connect(c, argv[2])) return 2;
    return cmd_set_wce(c, std::atoi(argv[3]) != 0);
  }
  std::fprintf(stderr,
               "usage: pattern_io write URL LBA BLOCKS SEED [fua] | verify URL LBA BLOCKS SEED |\n"
               "       churn URL LOG SECONDS SEED REGION_BLOCKS | check URL LOG [torn-ok] | wce URL |\n"
               "       sense read|write|write-fua|sync URL LBA BLOCKS | set-wce URL 0|1\n");
  return 2;
}
