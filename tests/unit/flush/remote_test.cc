// SPDX-License-Identifier: GPL-2.0-only
// Remote durability (utils/flush/include/tgt_pmem/flush/remote.h) on the fake verbs: what
// each flusher posts, in which order and where, and how completion errors come back.
#include "tgt_pmem/flush/remote.h"

#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <array>
#include <vector>

#include "fake_rdma.h"
#include "remote_impl.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::flush {
namespace {

using rdma::Completion;
using rdma::LocalBuffer;
using rdma::RemoteBuffer;
using rdma::WorkType;
using testing::FakeConnection;
using testing::FakePeer;

// The fake connection, with a log of the RDMA work posted through it (the fake runs it but
// does not say what was asked).
class RecordingConnection : public rdma::Connection {
 public:
  struct Post {
    WorkType type;
    std::uint64_t wr_id;
    RemoteBuffer remote;
    std::vector<LocalBuffer> local;
  };

  explicit RecordingConnection(std::unique_ptr<FakeConnection> inner) : inner_(std::move(inner)) {}

  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                                    unsigned access) override {
    return inner_->register_memory(addr, len, access);
  }
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory_at(
      void* addr, std::size_t len, unsigned access, std::uint64_t iova) override {
    return inner_->register_memory_at(addr, len, access, iova);
  }
  rdma::Status post_recv(std::uint64_t wr_id, LocalBuffer buf) override {
    return inner_->post_recv(wr_id, buf);
  }
  rdma::Status post_send(std::uint64_t wr_id, LocalBuffer buf) override {
    return inner_->post_send(wr_id, buf);
  }
  rdma::Status post_rdma_read(std::uint64_t wr_id, std::span<const LocalBuffer> dst,
                              RemoteBuffer src) override {
    posts.push_back({WorkType::kRdmaRead, wr_id, src, {dst.begin(), dst.end()}});
    return inner_->post_rdma_read(wr_id, dst, src);
  }
  rdma::Status post_rdma_write(std::uint64_t wr_id, std::span<const LocalBuffer> src,
                               RemoteBuffer dst) override {
    posts.push_back({WorkType::kRdmaWrite, wr_id, dst, {src.begin(), src.end()}});
    return inner_->post_rdma_write(wr_id, src, dst);
  }
  rdma::Status post_chain(std::span<const rdma::SendWork> chain) override {
    for (const rdma::SendWork& w : chain)
      if (w.type != WorkType::kSend)
        posts.push_back({w.type, w.wr_id, w.remote, {w.local.begin(), w.local.end()}});
    return inner_->post_chain(chain);
  }
  rdma::Result<std::size_t> poll(std::span<Completion> out) override { return inner_->poll(out); }
  int completion_fd() const noexcept override { return inner_->completion_fd(); }
  rdma::Status arm() override { return inner_->arm(); }
  void disconnect() noexcept override { inner_->disconnect(); }
  const rdma::QueueLimits& limits() const noexcept override { return inner_->limits(); }
  std::string peer_address() const override { return inner_->peer_address(); }

  std::vector<Post> posts;

 private:
  std::unique_ptr<FakeConnection> inner_;
};

// A connection that offers RDMA FLUSH, as a verbs one with a FLUSH-capable QP would.
class FlushingConnection final : public RecordingConnection, public rdma::FlushCapable {
 public:
  using RecordingConnection::RecordingConnection;
  rdma::Status post_rdma_flush(std::uint64_t wr_id, RemoteBuffer dst) override {
    flushes.push_back({wr_id, dst});
    return {};
  }
  std::vector<std::pair<std::uint64_t, RemoteBuffer>> flushes;
};

class RemoteFlushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_ = std::make_unique<RecordingConnection>(peer_.connect());
    auto mr = conn_->register_memory(data_.data(), data_.size(), rdma::kLocalWrite);
    ASSERT_TRUE(mr.has_value());
    data_mr_ = std::move(*mr);
    for (std::size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<std::byte>(i * 7 + 1);
  }

  // Posts an RDMA WRITE of the first len bytes of data_ to dst.
  void post_write(std::uint64_t wr_id, RemoteBuffer dst) {
    const LocalBuffer src{data_.data(), dst.length, data_mr_->lkey()};
    ASSERT_TRUE(conn_->post_rdma_write(wr_id, {&src, 1}, dst));
  }

  std::vector<Completion> reap() {
    std::array<Completion, 16> out{};
    auto n = conn_->poll(out);
    EXPECT_TRUE(n.has_value());
    return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n.value_or(0))};
  }

  std::unique_ptr<RemoteFlusher> make_raf() {
    auto f = make_remote_flusher(RemoteMethod::kReadAfterWrite, *conn_);
    EXPECT_TRUE(f.has_value()) << f.error().message();
    return f ? std::move(*f) : nullptr;
  }

  FakePeer peer_;
  std::unique_ptr<RecordingConnection> conn_;
  std::array<std::byte, 8192> data_{};
  std::unique_ptr<rdma::MemoryRegion> data_mr_;  // after data_ and conn_: goes first
};

TEST_F(RemoteFlushTest, ReadAfterWriteReadsTheLastBytesAfterTheWrite) {
  const RemoteBuffer region = peer_.add_region(16384);
  const RemoteBuffer written{region.addr + 100, region.rkey, 4096};
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->method(), RemoteMethod::kReadAfterWrite);

  post_write(1, written);
  ASSERT_TRUE(f->post(2, written));

  ASSERT_EQ(conn_->posts.size(), 2u);
  EXPECT_EQ(conn_->posts[0].type, WorkType::kRdmaWrite);
  const auto& read = conn_->posts[1];
  EXPECT_EQ(read.type, WorkType::kRdmaRead);
  EXPECT_EQ(read.wr_id, 2u);
  EXPECT_EQ(read.remote.rkey, written.rkey);
  EXPECT_EQ(read.remote.length, 8u);
  EXPECT_EQ(read.remote.addr, written.addr + written.length - 8) << "the range's last 8 bytes";
  ASSERT_EQ(read.local.size(), 1u);
  EXPECT_EQ(read.local[0].length, 8u);

  // Both run, in order; the READ's completion means durable.
  EXPECT_EQ(peer_.complete_all(), 2u);
  const auto done = reap();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].wr_id, 1u);
  EXPECT_EQ(done[1].wr_id, 2u);
  EXPECT_TRUE(done[1].ok) << "the sink is registered with local write";
  EXPECT_TRUE(f->complete(done[1]));
  // The WRITE's data is where it should be.
  const auto bytes = peer_.region(region.rkey);
  EXPECT_EQ(bytes[100], data_[0]);
  EXPECT_EQ(bytes[100 + 4095], data_[4095]);
}

TEST_F(RemoteFlushTest, ReadAfterWriteOfAShortRangeReadsAllOfIt) {
  const RemoteBuffer region = peer_.add_region(4096);
  const RemoteBuffer written{region.addr + 4093, region.rkey, 3};  // the region's last bytes
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  post_write(1, written);
  ASSERT_TRUE(f->post(2, written));
  ASSERT_EQ(conn_->posts.size(), 2u);
  EXPECT_EQ(conn_->posts[1].remote.addr, written.addr);
  EXPECT_EQ(conn_->posts[1].remote.length, 3u);
  peer_.complete_all();
  const auto done = reap();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(f->complete(done[1])) << "never reads past the range";
}

TEST_F(RemoteFlushTest, ReadAfterWriteOnAWriteOnlyRegionIsARemoteAccessError) {
  const RemoteBuffer region = peer_.add_region(4096, rdma::kRemoteWrite);
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  post_write(1, region);
  ASSERT_TRUE(f->post(2, region));
  peer_.complete_all();
  const auto done = reap();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[0].ok) << "the WRITE itself was allowed";
  const auto s = f->complete(done[1]);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
  EXPECT_EQ(s.error(), std::errc::permission_denied);
  EXPECT_NE(s.error().message().find("remote access error: the target refused the access"),
            std::string::npos)
      << s.error().message();
}

TEST_F(RemoteFlushTest, ReadAfterWriteReportsInjectedCompletionErrors) {
  const RemoteBuffer region = peer_.add_region(4096);
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  peer_.fail_next(WorkType::kRdmaRead, IBV_WC_RETRY_EXC_ERR);
  post_write(1, region);
  ASSERT_TRUE(f->post(2, region));
  peer_.complete_all();
  const auto done = reap();
  ASSERT_EQ(done.size(), 2u);
  const auto s = f->complete(done[1]);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), std::errc::timed_out);
}

TEST_F(RemoteFlushTest, AFailedWriteFlushesTheRead) {
  const RemoteBuffer region = peer_.add_region(4096);
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  peer_.fail_next(WorkType::kRdmaWrite, IBV_WC_REM_ACCESS_ERR);
  post_write(1, region);
  ASSERT_TRUE(f->post(2, region));
  peer_.complete_all();
  const auto done = reap();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_FALSE(done[0].ok);
  const auto s = f->complete(done[1]);
  ASSERT_FALSE(s.has_value()) << "a READ after a failed WRITE proves nothing";
  EXPECT_EQ(s.error(), rdma::completion_error(IBV_WC_WR_FLUSH_ERR));
  EXPECT_EQ(s.error(), std::errc::connection_aborted);
}

TEST_F(RemoteFlushTest, ReadAfterWriteRefusesAnEmptyRangeAndPassesPostErrorsOn) {
  const RemoteBuffer region = peer_.add_region(4096);
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->post(1, {region.addr, region.rkey, 0}).error(), std::errc::invalid_argument);
  peer_.fail_next_post(std::make_error_code(std::errc::not_enough_memory));
  EXPECT_EQ(f->post(2, region).error(), std::errc::not_enough_memory);
  EXPECT_EQ(peer_.pending_work(), 0u);
}

TEST_F(RemoteFlushTest, ReadAfterWriteRegistersItsSinkAndReleasesIt) {
  const auto before = peer_.live_regions();
  auto f = make_raf();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(peer_.live_regions(), before + 1);
  f.reset();
  EXPECT_EQ(peer_.live_regions(), before);

  peer_.fail_next_registration(std::make_error_code(std::errc::not_enough_memory));
  auto failed = make_remote_flusher(RemoteMethod::kReadAfterWrite, *conn_);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), std::errc::not_enough_memory);
}

TEST(RemoteFlush, ReadAfterWriteNeedsAnRdmaReadDepth) {
  FakePeer peer;
  rdma::QueueLimits limits;
  limits.rdma_read_depth = 0;  // the target gave us no responder resources
  auto conn = peer.connect(limits);
  auto f = make_remote_flusher(RemoteMethod::kReadAfterWrite, *conn);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error(), RemoteFlushError::kNoRdmaRead);
  EXPECT_EQ(f.error(), std::errc::not_supported);
}

TEST(RemoteFlush, RdmaFlushIsReportedClearlyWhenUnavailable) {
  FakePeer peer;
  auto conn = peer.connect();
  auto f = make_remote_flusher(RemoteMethod::kRdmaFlush, *conn);
  ASSERT_FALSE(f.has_value()) << "no connection offers RDMA FLUSH yet";
  EXPECT_EQ(f.error(), std::errc::not_supported);
  if (!remote_method_built(RemoteMethod::kRdmaFlush)) {
    // Debian 12: rdma-core 44.
    EXPECT_EQ(f.error(), RemoteFlushError::kRdmaFlushNotBuilt);
    const std::string m = f.error().message();
    EXPECT_NE(m.find("RDMA FLUSH is not available"), std::string::npos) << m;
    EXPECT_NE(m.find("ibv_wr_flush"), std::string::npos) << m;
    EXPECT_NE(m.find("rdma-core 45"), std::string::npos) << m;
  } else {
    EXPECT_EQ(f.error(), RemoteFlushError::kRdmaFlushNotOffered);
  }
  EXPECT_TRUE(remote_method_built(RemoteMethod::kReadAfterWrite));
  EXPECT_EQ(to_string(RemoteMethod::kReadAfterWrite), "read-after-write");
  EXPECT_EQ(to_string(RemoteMethod::kRdmaFlush), "rdma-flush");
}

TEST(RemoteFlush, RdmaFlushFlusherPostsAFlushOfTheWholeRange) {
  FakePeer peer;
  FlushingConnection conn(peer.connect());
  auto f = detail::make_rdma_flush_flusher(conn);
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ((*f)->method(), RemoteMethod::kRdmaFlush);
  const RemoteBuffer written{0x7f0000001000, 0x1234, 65536};
  ASSERT_TRUE((*f)->post(9, written));
  ASSERT_EQ(conn.flushes.size(), 1u);
  EXPECT_EQ(conn.flushes[0].first, 9u);
  EXPECT_EQ(conn.flushes[0].second.addr, written.addr);
  EXPECT_EQ(conn.flushes[0].second.length, written.length);
  EXPECT_EQ(conn.flushes[0].second.rkey, written.rkey);
  EXPECT_EQ((*f)->post(10, {written.addr, written.rkey, 0}).error(), std::errc::invalid_argument);

  Completion c;
  c.wr_id = 9;
  c.type = WorkType::kRdmaWrite;
  c.ok = true;
  EXPECT_TRUE((*f)->complete(c));
  c.ok = false;
  c.vendor_status = IBV_WC_REM_ACCESS_ERR;
  EXPECT_EQ((*f)->complete(c).error(), std::errc::permission_denied);
  c.vendor_status = 0;  // failed without a status: still a failure
  EXPECT_FALSE((*f)->complete(c).has_value());

  FakePeer plain_peer;
  RecordingConnection plain(plain_peer.connect());
  EXPECT_EQ(detail::make_rdma_flush_flusher(plain).error(), RemoteFlushError::kRdmaFlushNotOffered);
}

// make_remote_flusher itself, on the fake connection that offers RDMA FLUSH (as a verbs one
// does on a device with it): a real flusher in a build with ibv_wr_flush, "not built"
// without (Debian 12), whatever the connection offers.
TEST(RemoteFlush, RdmaFlushOnAFlushCapableConnection) {
  FakePeer peer;
  auto conn = peer.connect_flush_capable();
  auto f = make_remote_flusher(RemoteMethod::kRdmaFlush, *conn);
  if (!remote_method_built(RemoteMethod::kRdmaFlush)) {
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error(), RemoteFlushError::kRdmaFlushNotBuilt);
    GTEST_SKIP() << "built against a libibverbs without ibv_wr_flush";
  }
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ((*f)->method(), RemoteMethod::kRdmaFlush);

  std::array<std::byte, 4096> data{};
  data.fill(std::byte{0x3c});
  auto mr = conn->register_memory(data.data(), data.size(), rdma::kLocalWrite);
  ASSERT_TRUE(mr.has_value());
  const RemoteBuffer region = peer.add_region(16384, rdma::kRemoteWrite | rdma::kRemoteFlush);
  const RemoteBuffer written{region.addr + 512, region.rkey, 4096};
  const LocalBuffer src{data.data(), 4096, (*mr)->lkey()};
  ASSERT_TRUE(conn->post_rdma_write(1, {&src, 1}, written));
  ASSERT_TRUE((*f)->post(2, written));
  EXPECT_EQ(peer.complete_all(), 2u);
  std::array<Completion, 4> done{};
  ASSERT_EQ(conn->poll(done).value_or(0), 2u);
  EXPECT_EQ(done[1].wr_id, 2u);
  EXPECT_TRUE((*f)->complete(done[1])) << "durable";
  EXPECT_EQ(peer.region(region.rkey)[512], std::byte{0x3c});

  // The target registered the region without FLUSH access: refused, like the READ of
  // read-after-write on a write-only region.
  const RemoteBuffer no_flush = peer.add_region(4096, rdma::kRemoteWrite | rdma::kRemoteRead);
  ASSERT_TRUE((*f)->post(3, no_flush));
  peer.complete_all();
  ASSERT_EQ(conn->poll(done).value_or(0), 1u);
  const auto s = (*f)->complete(done[0]);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
  EXPECT_EQ(s.error(), std::errc::permission_denied);
}

TEST(CompletionError, ValuesAreThoseOfVerbs) {
  // completion_error.h spells the ibv_wc_status values out, to need no libibverbs.
  EXPECT_EQ(rdma::completion_error(IBV_WC_REM_ACCESS_ERR).message(),
            "remote access error: the target refused the access");
  EXPECT_NE(rdma::completion_error(IBV_WC_WR_FLUSH_ERR).message().find("flushed"),
            std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_RETRY_EXC_ERR).message().find("retries"),
            std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_RNR_RETRY_EXC_ERR).message().find("receiver-not-ready"),
            std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_LOC_LEN_ERR).message().find("length"), std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_LOC_PROT_ERR).message().find("protection"),
            std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_REM_INV_REQ_ERR).message().find("invalid request"),
            std::string::npos);
  EXPECT_NE(rdma::completion_error(IBV_WC_FATAL_ERR).message().find("fatal"), std::string::npos);
  EXPECT_EQ(rdma::completion_error(IBV_WC_RESP_TIMEOUT_ERR), std::errc::timed_out);
  EXPECT_NE(rdma::completion_error(IBV_WC_REM_ABORT_ERR).message().find("abort"),
            std::string::npos);
  EXPECT_EQ(rdma::completion_error(99).message(), "work completion status 99");
  EXPECT_EQ(rdma::completion_error(IBV_WC_REM_ACCESS_ERR).category().name(),
            std::string("rdma-completion"));
}

}  // namespace
}  // namespace tgt_pmem::flush
