// SPDX-License-Identifier: GPL-2.0-only
// Benchmark (prints figures): how long opening a large, sparse LUN on the atomic layout takes.
// The first open formats (it checks that the metadata area is zero from the file's data
// extents, reading none of a sparse file's holes, then writes the header); every later open
// only runs recovery, whose cost is O(lanes x 256) and does not depend on the LUN's size.
// tests/bench/scaling.sh measures the same through a real tgtd, with its memory.
// Usage: atomic_open [SIZE_GIB=64] [DIR=/var/tmp]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "atomic_layout.h"
#include "pmem_medium.h"

int main(int argc, char** argv) {
  using namespace tgt_pmem::bs;
  using Clock = std::chrono::steady_clock;
  const std::uint64_t gib = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 64;
  const std::string dir = argc > 2 ? argv[2] : "/var/tmp";
  const std::string path = dir + "/tgtpmem-atomic-open-" + std::to_string(::getpid()) + ".img";
  std::ofstream(path).close();
  std::filesystem::resize_file(path, gib << 30);
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  int rc = 0;
  for (int round = 0; round < 3 && rc == 0; ++round) {
    const auto t0 = Clock::now();
    auto m = PmemMedium::open(path, 1 << 20);
    if (!m) { std::fprintf(stderr, "%s\n", m.error().message.c_str()); rc = 1; break; }
    const auto t1 = Clock::now();
    auto l = AtomicLayout::open(**m, 4096);
    if (!l) { std::fprintf(stderr, "%s\n", l.error().c_str()); rc = 1; break; }
    const auto t2 = Clock::now();
    std::printf("%-8s %3llu GiB sparse file, 4 KiB blocks, %llu logical blocks: map %.1f ms, "
                "layout open %.1f ms%s\n",
                round == 0 ? "format" : "reopen", static_cast<unsigned long long>(gib),
                static_cast<unsigned long long>((*l)->capacity() / 4096), ms(t1 - t0),
                ms(t2 - t1), round == 0 ? " (checks the metadata area is zero)" : " (recovery)");
  }
  std::filesystem::remove(path);
  return rc;
}
