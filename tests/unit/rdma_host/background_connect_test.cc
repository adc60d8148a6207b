// SPDX-License-Identifier: GPL-2.0-only
// rdma_host::BackgroundConnect: a blocking connect on its own thread, its result on the loop.
#include "tgt_pmem/rdma_host/background_connect.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "fake_loop.h"

namespace tgt_pmem::rdma_host {
namespace {

using namespace std::chrono_literals;

// A connection that does nothing: what the work hands over; `alive` counts the live ones.
class NullConnection final : public rdma::Connection {
 public:
  explicit NullConnection(std::atomic<int>& alive) : alive_(alive) { ++alive_; }
  ~NullConnection() override { --alive_; }
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory(void*, std::size_t,
                                                                    unsigned) override {
    return std::unexpected(std::make_error_code(std::errc::not_supported));
  }
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory_at(void*, std::size_t,
                                                                       unsigned,
                                                                       std::uint64_t) override {
    return std::unexpected(std::make_error_code(std::errc::not_supported));
  }
  rdma::Status post_recv(std::uint64_t, rdma::LocalBuffer) override { return {}; }
  rdma::Status post_send(std::uint64_t, rdma::LocalBuffer) override { return {}; }
  rdma::Status post_rdma_read(std::uint64_t, std::span<const rdma::LocalBuffer>,
                              rdma::RemoteBuffer) override {
    return {};
  }
  rdma::Status post_rdma_write(std::uint64_t, std::span<const rdma::LocalBuffer>,
                               rdma::RemoteBuffer) override {
    return {};
  }
  rdma::Status post_chain(std::span<const rdma::SendWork>) override { return {}; }
  rdma::Result<std::size_t> poll(std::span<rdma::Completion>) override { return 0; }
  int completion_fd() const noexcept override { return -1; }
  rdma::Status arm() override { return {}; }
  void disconnect() noexcept override {}
  const rdma::QueueLimits& limits() const noexcept override { return limits_; }
  std::string peer_address() const override { return "192.0.2.9:5566"; }

 private:
  std::atomic<int>& alive_;
  rdma::QueueLimits limits_;
};

// Turns the loop until done says so (or 5 s: then the test fails rather than hangs).
template <class Pred>
bool turn_until(testing::FakeLoop& loop, Pred done) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < end) {
    loop.run_ready();
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

TEST(BackgroundConnect, TheResultArrivesOnTheLoopNotOnTheThread) {
  testing::FakeLoop loop;
  std::promise<void> go;
  auto gate = go.get_future().share();
  std::optional<BackgroundConnect::Result> got;
  const auto loop_thread = std::this_thread::get_id();
  auto bc = BackgroundConnect::start(
      loop,
      [gate]() -> BackgroundConnect::Result {
        gate.wait();  // blocks like rdma::connect; the loop goes on meanwhile
        return std::unexpected(std::make_error_code(std::errc::connection_refused));
      },
      [&](BackgroundConnect::Result r) {
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        got = std::move(r);
      });
  ASSERT_TRUE(bc.has_value());
  EXPECT_EQ(loop.watches.size(), 1u);
  EXPECT_EQ(loop.run_ready(), 0u);  // nothing yet: the work is blocked
  EXPECT_FALSE(got);
  go.set_value();
  ASSERT_TRUE(turn_until(loop, [&] { return got.has_value(); }));
  EXPECT_EQ(got->error(), std::errc::connection_refused);
  EXPECT_TRUE(loop.watches.empty()) << "the eventfd is still watched";
}

TEST(BackgroundConnect, AConnectionIsHandedOver) {
  testing::FakeLoop loop;
  std::atomic<int> alive{0};
  std::optional<BackgroundConnect::Result> got;
  auto bc = BackgroundConnect::start(
      loop,
      [&]() -> BackgroundConnect::Result {
        return std::unique_ptr<rdma::Connection>(std::make_unique<NullConnection>(alive));
      },
      [&](BackgroundConnect::Result r) { got = std::move(r); });
  ASSERT_TRUE(bc.has_value());
  ASSERT_TRUE(turn_until(loop, [&] { return got.has_value(); }));
  ASSERT_TRUE(got->has_value());
  EXPECT_NE(got->value(), nullptr);
  EXPECT_EQ(alive, 1);
}

// Bug caught: a LUN closed while its mirror connects either blocks tgtd's loop until the
// connect times out, or has its callback run on a destroyed object.
TEST(BackgroundConnect, DestroyedWhileTheWorkRunsNeitherBlocksNorCallsBack) {
  testing::FakeLoop loop;
  std::promise<void> go;
  auto gate = go.get_future().share();
  std::atomic<bool> made{false};
  std::atomic<int> alive{0};
  bool called = false;
  {
    auto bc = BackgroundConnect::start(
        loop,
        [gate, &made, &alive]() -> BackgroundConnect::Result {
          gate.wait();
          auto c = std::make_unique<NullConnection>(alive);
          made = true;
          return std::unique_ptr<rdma::Connection>(std::move(c));
        },
        [&](BackgroundConnect::Result) { called = true; });
    ASSERT_TRUE(bc.has_value());
    const auto before = std::chrono::steady_clock::now();
    bc->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1s) << "the destructor waited";
  }
  EXPECT_TRUE(loop.watches.empty());
  go.set_value();
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!made && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  while (alive != 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(alive, 0) << "the abandoned attempt's connection was not destroyed";
  loop.run_ready();
  EXPECT_FALSE(called);
}

TEST(BackgroundConnect, AWatchTheLoopRefusesStartsNothing) {
  testing::FakeLoop loop;
  loop.fail_watches = 1;
  bool ran = false;
  auto bc = BackgroundConnect::start(
      loop, [&]() -> BackgroundConnect::Result {
        ran = true;
        return std::unexpected(std::make_error_code(std::errc::io_error));
      },
      [](BackgroundConnect::Result) { ADD_FAILURE(); });
  ASSERT_FALSE(bc.has_value());
  EXPECT_EQ(bc.error(), std::errc::not_enough_memory);
  std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace tgt_pmem::rdma_host
