// SPDX-License-Identifier: GPL-2.0-only
// The REAL push-mode service (iser_ext/src) in-process, with one 1 MiB LUN in memory (target
// kIqn, LUN 1, admitting kInitiator), for the tests of the clients that speak to it over a
// Bridge (tests/fakes/push_bridge.h): the blocking client and the mirror's asynchronous one.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fake_loop.h"
#include "fake_rdma.h"
#include "push_bridge.h"
#include "push_service.h"

namespace tgt_pmem::push::service_fixture {

constexpr std::size_t kBudget = 256;  // completions per turn, as the runtime gives

using tgt_pmem::testing::FakeListener;
using tgt_pmem::testing::FakePeer;

constexpr std::size_t kLunSize = 1 << 20;
const std::string kIqn = "iqn.2024-01.org.tgt-pmem:push";
const std::string kInitiator = "iqn.2024-01.org.tgt-pmem:client";

class FakeHost : public PushHost {
 public:
  std::set<std::string> admitted = {kInitiator};
  bool chap = false;
  std::optional<std::string> target_name(int tid) override {
    return tid == 1 ? std::optional(kIqn) : std::nullopt;
  }
  bool admits(int, const std::string& i, const std::string&) override {
    return admitted.contains(i);
  }
  bool chap_required(int) override { return chap; }
  std::optional<std::string> chap_secret(int, const std::string& user) override {
    if (user == "alice") return std::string("s3cret-s3cret");
    return std::nullopt;
  }
  void log(bool, const std::string&) override {}
};

class ServiceFixture : public ::testing::Test {
 protected:
  ServiceFixture() { service.attach(memory_lun(1, 1, lun_mem, persisted)); }

  // A LUN of target tid over mem (blocks of 512 bytes) whose persist() records each range it
  // is asked to make durable in `persisted`.
  static PushLun memory_lun(int tid, std::uint64_t lun, std::span<std::byte> mem,
                            std::vector<std::pair<std::uint64_t, std::uint64_t>>& persisted) {
    PushLun l;
    l.tid = tid;
    l.lun = lun;
    l.base = mem.data();
    l.size = mem.size();
    l.block_size = 512;
    l.persist = [&persisted](std::uint64_t off, std::uint64_t len) {
      persisted.emplace_back(off, len);
      return 0;
    };
    return l;
  }
  ~ServiceFixture() override { service.close_all("the test ends"); }

  // Runs the service: connect requests, disconnects, every session's completions.
  void pump_service() {
    for (;;) {
      auto ev = listener.next_event();
      ASSERT_TRUE(ev);
      if (!*ev) break;
      auto& e = **ev;
      if (e.type == rdma::EventType::kConnectRequest)
        service.on_connect_request(std::move(e.pending));
      if (e.type == rdma::EventType::kDisconnected) service.on_disconnected(*e.connection);
    }
    for (auto& [id, s] : service.sessions())
      for (auto p = s->on_completions(kBudget); p == push::Session::Polling::kYield; p = s->resume(kBudget)) {
      }
    service.reap();
  }

  static std::vector<std::byte> pattern(std::size_t n, int seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::byte((i * 13 + seed) & 0xff);
    return v;
  }

  std::vector<std::byte> lun_mem = std::vector<std::byte>(kLunSize);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> persisted;
  FakeHost host;
  testing::FakeLoop loop;
  rdma_host::Runtime runtime{loop, "push"};
  Service service{host, runtime};
  FakeListener listener;
};

}  // namespace tgt_pmem::push::service_fixture
