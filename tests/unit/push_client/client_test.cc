// SPDX-License-Identifier: GPL-2.0-only
// The push-mode client library (iser_ext/include/tgt_pmem/push/client.h) on the fake verbs,
// against a scripted target (fake_target.h): the protocol flows, the data path and how every
// kind of failure comes back.
#include "tgt_pmem/push/client.h"

#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "fake_rdma.h"
#include "fake_target.h"
#include "tgt_pmem/flush/remote.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push {
namespace {

using test_support::FakeTarget;
using test_support::test_options;
using tgt_pmem::testing::FakePeer;

std::vector<std::byte> bytes(std::size_t n, std::uint8_t salt = 1) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + salt) & 0xff);
  return v;
}

class PushClient : public ::testing::Test {
 protected:
  PushClient() : target(peer) {}

  Result<Client> connect(ClientOptions o = test_options()) {
    return Client::connect_over(peer.connect(), o, target.hook());
  }

  Client connected(ClientOptions o = test_options()) {
    auto c = connect(o);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return std::move(*c);
  }

  FakePeer peer;
  FakeTarget target;
};

TEST_F(PushClient, ConnectSendsTheNamesAndLearnsTheLun) {
  auto c = connect();
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_EQ(target.connects.size(), 1u);
  EXPECT_EQ(target.connects[0].initiator_name, "iqn.2024-01.org.tgt-pmem:client");
  EXPECT_EQ(target.connects[0].target_name, "iqn.2024-01.org.tgt-pmem:push");
  EXPECT_EQ(target.connects[0].lun, 1u);
  EXPECT_EQ(c->lun_size(), 1u << 20);
  EXPECT_EQ(c->block_size(), 512u);
  EXPECT_EQ(c->max_regions(), 8u);
  EXPECT_FALSE(c->broken());
  EXPECT_EQ(c->peer_address(), "192.0.2.2:45678");
}

TEST_F(PushClient, ATargetRefusalIsItsStatus) {
  target.connect_status = Status::kNotAdmitted;
  auto c = connect();
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), status_error(Status::kNotAdmitted));
  EXPECT_EQ(target_status(c.error()), Status::kNotAdmitted);
  EXPECT_EQ(c.error(), std::errc::permission_denied);
  EXPECT_NE(c.error().message().find("the target answered: "), std::string::npos)
      << c.error().message();
}

TEST_F(PushClient, AnswersAChapChallenge) {
  target.require_chap = true;
  ClientOptions o = test_options();
  o.chap_user = "alice";
  o.chap_secret = "s3cret-s3cret";
  auto c = connect(o);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_EQ(target.chap_responses.size(), 1u);
  EXPECT_EQ(target.chap_responses[0].user, "alice");
  EXPECT_EQ(c->lun_size(), 1u << 20);
}

TEST_F(PushClient, AWrongChapSecretIsAuthFailed) {
  target.require_chap = true;
  ClientOptions o = test_options();
  o.chap_user = "alice";
  o.chap_secret = "wrong";
  auto c = connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(target_status(c.error()), Status::kAuthFailed);
}

TEST_F(PushClient, ChapRequiredWithoutAUserFailsWithoutAnswering) {
  target.require_chap = true;
  auto c = connect();
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(target_status(c.error()), Status::kChapRequired);
  EXPECT_TRUE(target.chap_responses.empty());
}

TEST_F(PushClient, NamesTooLongAreRefusedBeforeSending) {
  ClientOptions o = test_options();
  o.target_name.assign(kMaxNameLength + 1, 'x');
  auto c = connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), std::errc::invalid_argument);
  EXPECT_TRUE(target.connects.empty());
}

TEST_F(PushClient, RegisterWriteReadCommitUnregister) {
  Client c = connected();
  auto r = c.register_region(4096, 65536, kRead | kWrite);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(target.registers.size(), 1u);
  EXPECT_EQ(target.registers[0].offset, 4096u);
  EXPECT_EQ(target.registers[0].length, 65536u);
  EXPECT_EQ(target.registers[0].access, kRead | kWrite);
  EXPECT_EQ(r->lun_offset, 4096u);
  EXPECT_EQ(r->length(), 65536u);
  EXPECT_EQ(r->remote.rkey, target.regions.at(r->handle).remote.rkey);

  const auto data = bytes(3000);
  ASSERT_TRUE(c.write(*r, 100, data));
  const auto region = peer.region(r->remote.rkey);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), region.begin() + 100)) << "RDMA WRITE placed";

  std::vector<std::byte> back(3000);
  ASSERT_TRUE(c.read(*r, 100, back));
  EXPECT_EQ(back, data);

  const Range range{100, 3000};
  ASSERT_TRUE(c.commit(*r, {&range, 1}));
  ASSERT_EQ(target.commits.size(), 1u);
  EXPECT_EQ(target.commits[0].handle, r->handle);
  ASSERT_EQ(target.commits[0].ranges.size(), 1u);
  EXPECT_EQ(target.commits[0].ranges[0], range);
  ASSERT_TRUE(c.commit(*r)) << "the whole region";
  EXPECT_TRUE(target.commits[1].ranges.empty());

  ASSERT_TRUE(c.unregister(*r));
  ASSERT_EQ(target.unregisters.size(), 1u);
  EXPECT_EQ(target.unregisters[0].handle, r->handle);
  EXPECT_FALSE(c.broken());
}

// ClientOptions::poll: a wait polls the completion queue that long before it sleeps (here
// the target answers only when the client would sleep: FakeTarget's idle hook).
TEST_F(PushClient, PollsTheCompletionQueueBeforeSleeping) {
  using Clock = std::chrono::steady_clock;
  ClientOptions o = test_options();
  o.poll = std::chrono::milliseconds(30);
  Client c = connected(o);
  auto t0 = Clock::now();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_GE(Clock::now() - t0, o.poll) << "polled, found nothing, then slept";
  // An answer that comes while the client polls ends the wait at once.
  peer.on_poll(target.hook());
  t0 = Clock::now();
  ASSERT_TRUE(c.write_and_commit(*r, 0, bytes(4096)));
  EXPECT_LT(Clock::now() - t0, o.poll);
  peer.on_poll({});
  EXPECT_EQ(target.commits.size(), 1u);
}

TEST_F(PushClient, WithoutPollingAWaitSleepsAtOnce) {
  using Clock = std::chrono::steady_clock;
  Client c = connected();  // ClientOptions::poll 0
  const auto t0 = Clock::now();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(30));
}

TEST_F(PushClient, RequestIdsAreFreshAndEchoed) {
  Client c = connected();
  auto a = c.register_region(0, 4096, kWrite);
  auto b = c.register_region(4096, 4096, kWrite);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(target.registers.size(), 2u);
  EXPECT_NE(target.registers[0].request_id, target.registers[1].request_id);
  EXPECT_NE(target.registers[0].request_id, target.connects[0].request_id);
}

TEST_F(PushClient, TransfersLargerThanTheStagingBufferGoInPieces) {
  ClientOptions o = test_options();
  o.staging_bytes = 4096;
  Client c = connected(o);
  auto r = c.register_region(0, 65536, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  const auto data = bytes(10000, 7);
  ASSERT_TRUE(c.write(*r, 5, data));
  const auto region = peer.region(r->remote.rkey);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), region.begin() + 5));
  EXPECT_EQ(region[4], std::byte{0}) << "nothing before";
  EXPECT_EQ(region[5 + 10000], std::byte{0}) << "nothing after";
  std::vector<std::byte> back(10000);
  ASSERT_TRUE(c.read(*r, 5, back));
  EXPECT_EQ(back, data);
}

TEST_F(PushClient, WriteAndCommitSendsTheCommitBehindTheWrite) {
  Client c = connected();
  auto r = c.register_region(0, 8192, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  const auto data = bytes(512, 9);
  ASSERT_TRUE(c.write_and_commit(*r, 1024, data));
  ASSERT_EQ(target.commits.size(), 1u);
  ASSERT_EQ(target.commits[0].ranges.size(), 1u);
  EXPECT_EQ(target.commits[0].ranges[0], (Range{1024, 512}));
  // The target saw the data when the COMMIT arrived.
  const auto& seen = target.contents_at_commit.at(0);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), seen.begin() + 1024));
}

TEST_F(PushClient, WriteAndCommitOfManyPiecesCommitsTheWholeRangeOnce) {
  ClientOptions o = test_options();
  o.staging_bytes = 1024;
  Client c = connected(o);
  auto r = c.register_region(0, 8192, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  const auto data = bytes(3000, 4);
  ASSERT_TRUE(c.write_and_commit(*r, 10, data));
  ASSERT_EQ(target.commits.size(), 1u);
  EXPECT_EQ(target.commits[0].ranges.at(0), (Range{10, 3000}));
  const auto& seen = target.contents_at_commit.at(0);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), seen.begin() + 10));
}

TEST_F(PushClient, ReadAfterWriteFlushes) {
  Client c = connected();
  auto r = c.register_region(0, 8192, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  const auto data = bytes(4096, 2);
  ASSERT_TRUE(c.write_and_flush(*r, 4096, data));
  ASSERT_TRUE(c.write(*r, 0, data));
  ASSERT_TRUE(c.flush_read_after_write(*r, 0, 4096));
  EXPECT_TRUE(target.commits.empty()) << "no target CPU involved";
  EXPECT_FALSE(c.broken());
}

TEST_F(PushClient, ReadAfterWriteNeedsReadAccess) {
  Client c = connected();
  auto r = c.register_region(0, 8192, kWrite);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(c.write(*r, 0, bytes(512)));
  auto f = c.flush_read_after_write(*r, 0, 512);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error(), ClientError::kNotReadable);
  EXPECT_EQ(c.write_and_flush(*r, 0, bytes(512)).error(), ClientError::kNotReadable);
  EXPECT_FALSE(c.broken()) << "refused before anything was posted";
}

TEST_F(PushClient, LocalChecksRefuseWithoutBreakingTheConnection) {
  Client c = connected();
  auto ro = c.register_region(0, 4096, kRead);
  ASSERT_TRUE(ro.has_value());
  EXPECT_EQ(c.write(*ro, 0, bytes(16)).error(), ClientError::kNotWritable);
  EXPECT_EQ(c.write(*ro, 0, bytes(16)).error(), std::errc::permission_denied);
  std::vector<std::byte> out(16);
  EXPECT_EQ(c.read(*ro, 4090, out).error(), ClientError::kOutsideRegion);
  EXPECT_EQ(c.read(*ro, 4090, out).error(), std::errc::invalid_argument);
  EXPECT_EQ(c.read(*ro, UINT64_MAX, out).error(), ClientError::kOutsideRegion) << "no overflow";
  auto wo = c.register_region(4096, 4096, kWrite);
  ASSERT_TRUE(wo.has_value());
  EXPECT_EQ(c.read(*wo, 0, out).error(), ClientError::kNotReadable);
  EXPECT_EQ(peer.pending_work(), 0u);
  EXPECT_FALSE(c.broken());
  EXPECT_TRUE(c.read(*ro, 4080, out));
}

TEST_F(PushClient, TargetStatusesComeBackAndTheSessionGoesOn) {
  Client c = connected();
  auto bad = c.register_region(100, 4096, kWrite);  // not block aligned
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(target_status(bad.error()), Status::kOutOfRange);
  auto r = c.register_region(0, 4096, kRead);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(target_status(c.commit(*r).error()), Status::kAccessDenied);
  const Range beyond{4000, 200};
  auto w = c.register_region(4096, 4096, kWrite);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(target_status(c.commit(*w, {&beyond, 1}).error()), Status::kOutOfRange)
      << "ranges are the target's to check";
  target.commit_status = Status::kIoError;
  EXPECT_EQ(c.commit(*w).error(), std::errc::io_error);
  ASSERT_TRUE(c.unregister(*w));
  EXPECT_EQ(target_status(c.unregister(*w).error()), Status::kNoSuchHandle);
  EXPECT_FALSE(c.broken());
}

TEST_F(PushClient, TooManyCommitRangesAreRefusedLocally) {
  Client c = connected();
  auto r = c.register_region(0, 65536, kWrite);
  ASSERT_TRUE(r.has_value());
  std::vector<Range> ranges(kMaxCommitRanges + 1, Range{0, 512});
  EXPECT_EQ(c.commit(*r, ranges).error(), std::errc::invalid_argument);
  ranges.pop_back();
  EXPECT_TRUE(c.commit(*r, ranges));
}

TEST_F(PushClient, ARemoteAccessErrorIsClearAndBreaksTheConnection) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  RemoteRegion beyond = r->remote;
  auto w = c.write_raw(beyond, 4000, bytes(200));  // past the end: the target's HCA refuses
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
  EXPECT_EQ(w.error().message(), "remote access error: the target refused the access");
  EXPECT_TRUE(c.broken());
  auto after = c.register_region(4096, 4096, kWrite);
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error(), ClientError::kBroken);
  EXPECT_EQ(after.error(), std::errc::not_connected);
}

TEST_F(PushClient, AnUnregisteredRegionCannotBeWritten) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(c.unregister(*r));
  // The Region value is stale now: the target's device refuses its rkey.
  auto w = c.write(*r, 0, bytes(16));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), std::errc::permission_denied);
  EXPECT_EQ(w.error().category(), rdma::completion_category());
}

TEST_F(PushClient, ReadRawOfAnotherKeyIsRefused) {
  Client c = connected();
  std::vector<std::byte> out(8);
  auto r = c.read_raw({0x1000, 0xdead, 8}, 0, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
}

TEST_F(PushClient, ATargetThatDisconnectsFailsTheWaitInsteadOfHanging) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kWrite);
  ASSERT_TRUE(r.has_value());
  target.disconnect_instead_of_answer = true;
  auto commit = c.commit(*r);
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error(), rdma::completion_error(IBV_WC_WR_FLUSH_ERR));
  EXPECT_EQ(commit.error(), std::errc::connection_aborted);
  EXPECT_TRUE(c.broken());
}

TEST_F(PushClient, NoReplyTimesOut) {
  ClientOptions o = test_options();
  o.timeout = std::chrono::milliseconds(30);
  Client c = connected(o);
  auto r = c.register_region(0, 4096, kWrite);
  ASSERT_TRUE(r.has_value());
  target.answer = false;
  auto commit = c.commit(*r);
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error(), std::errc::timed_out);
  EXPECT_TRUE(c.broken());
  EXPECT_TRUE(peer.disconnect_called()) << "the QP stops: nothing lands in our buffers later";
}

TEST_F(PushClient, AReplyToAnotherRequestIsABadReply) {
  Client c = connected();
  SimpleReply wrong;
  wrong.request_id = 9999;
  target.next_reply_override = encode(MessageType::kCommitReply, wrong);
  auto r = c.register_region(0, 4096, kWrite);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), ClientError::kBadReply);
  EXPECT_EQ(r.error(), std::errc::protocol_error);
  EXPECT_TRUE(c.broken());
}

TEST_F(PushClient, GarbageIsABadReply) {
  Client c = connected();
  target.next_reply_override = std::vector<std::byte>(20, std::byte{0x41});
  auto r = c.register_region(0, 4096, kWrite);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), ClientError::kBadReply);
}

TEST_F(PushClient, AConnectReplyRefusingARequestIsItsStatus) {
  Client c = connected();
  ConnectReply refuse;
  refuse.request_id = 2;  // the REGISTER's: CONNECT was 1
  refuse.status = Status::kBadRequest;
  target.next_reply_override = encode(refuse);
  auto r = c.register_region(0, 4096, kWrite);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(target_status(r.error()), Status::kBadRequest);
  EXPECT_FALSE(c.broken());
}

TEST_F(PushClient, CompletionErrorsOfTheDataPathComeBack) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  peer.fail_next(rdma::WorkType::kRdmaWrite, IBV_WC_RETRY_EXC_ERR);
  auto w = c.write(*r, 0, bytes(64));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), std::errc::timed_out);
  EXPECT_NE(w.error().message().find("retries"), std::string::npos);
}

TEST_F(PushClient, AFailedWriteIsReportedNotTheCommitItFlushed) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  peer.fail_next(rdma::WorkType::kRdmaWrite, IBV_WC_REM_ACCESS_ERR);
  auto w = c.write_and_commit(*r, 0, bytes(64));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR)) << w.error().message();
  EXPECT_TRUE(target.commits.empty()) << "the COMMIT was flushed, never sent";
}

TEST_F(PushClient, PostAndPollErrorsComeBack) {
  Client c = connected();
  auto r = c.register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  peer.fail_next_post(std::make_error_code(std::errc::not_enough_memory));
  EXPECT_EQ(c.write(*r, 0, bytes(8)).error(), std::errc::not_enough_memory);
  EXPECT_FALSE(c.broken()) << "nothing was posted";
  peer.fail_next_poll(std::make_error_code(std::errc::io_error));
  EXPECT_EQ(c.write(*r, 0, bytes(8)).error(), std::errc::io_error);
  EXPECT_TRUE(c.broken());
}

TEST_F(PushClient, RegistrationFailureFailsConnect) {
  peer.fail_next_registration(std::make_error_code(std::errc::not_enough_memory));
  auto c = connect();
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), std::errc::not_enough_memory);
}

TEST_F(PushClient, EverythingRegisteredIsReleasedBeforeTheConnection) {
  {
    Client c = connected();
    auto r = c.register_region(0, 4096, kRead | kWrite);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(c.write_and_flush(*r, 0, bytes(64)));  // the flusher's sink too
    EXPECT_GE(peer.live_regions(), 4u);
    Client moved = std::move(c);
    EXPECT_FALSE(moved.broken());
  }
  EXPECT_TRUE(peer.connection_destroyed());
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
}

// --- The one-sided flush: read-after-write or RDMA FLUSH ----------------------------------

bool rdma_flush_built() { return flush::remote_method_built(flush::RemoteMethod::kRdmaFlush); }

// Why RDMA FLUSH cannot be posted on a plain (not FlushCapable) connection in this build.
std::error_code not_on_a_plain_connection() {
  return rdma_flush_built() ? flush::make_error_code(flush::RemoteFlushError::kRdmaFlushNotOffered)
                            : flush::make_error_code(flush::RemoteFlushError::kRdmaFlushNotBuilt);
}

TEST_F(PushClient, AutoFlushIsReadAfterWriteOnAPlainConnection) {
  target.offer_flush = true;
  Client c = connected();
  EXPECT_FALSE(c.rdma_flush_offered());
  auto r = c.register_region(0, 8192, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->flushable) << "the target said so";
  auto m = c.flush_method(*r);
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(*m, FlushMethod::kReadAfterWrite);
  const auto data = bytes(4096, 3);
  ASSERT_TRUE(c.write_and_flush(*r, 4096, data));
  EXPECT_TRUE(peer.rdma_flushes_run().empty());
  const auto seen = peer.region(r->remote.rkey);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), seen.begin() + 4096));
}

TEST_F(PushClient, ExplicitRdmaFlushOnAPlainConnectionFailsClearly) {
  target.offer_flush = true;
  ClientOptions o = test_options();
  o.flush_method = FlushMethod::kRdmaFlush;
  Client c = connected(o);
  auto r = c.register_region(0, 8192, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  auto m = c.flush_method(*r);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error(), not_on_a_plain_connection());
  EXPECT_EQ(m.error(), std::errc::not_supported);
  EXPECT_NE(m.error().message().find("RDMA FLUSH is not available"), std::string::npos)
      << m.error().message();
  auto w = c.write_and_flush(*r, 0, bytes(4096));
  ASSERT_FALSE(w.has_value()) << "never read-after-write in its place";
  EXPECT_EQ(w.error(), not_on_a_plain_connection());
  const auto seen = peer.region(r->remote.rkey);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](std::byte b) { return b == std::byte{0}; }))
      << "refused before the WRITE";
  EXPECT_FALSE(c.broken());
  ASSERT_TRUE(c.write_and_commit(*r, 0, bytes(512))) << "COMMIT still works";
}

TEST_F(PushClient, ExplicitReadAfterWriteIsKept) {
  target.offer_flush = true;
  ClientOptions o = test_options();
  o.flush_method = FlushMethod::kReadAfterWrite;
  auto conn = peer.connect_flush_capable();
  auto c = Client::connect_over(std::move(conn), o, target.hook());
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kReadAfterWrite);
  ASSERT_TRUE(c->write_and_flush(*r, 0, bytes(4096)));
  EXPECT_TRUE(peer.rdma_flushes_run().empty());
}

class PushClientFlushCapable : public PushClient {
 protected:
  Result<Client> connect_flush_capable(ClientOptions o = test_options()) {
    return Client::connect_over(peer.connect_flush_capable(), o, target.hook());
  }
};

TEST_F(PushClientFlushCapable, AutoFlushIsRdmaFlushWhereConnectionAndRegionOfferIt) {
  target.offer_flush = true;
  auto c = connect_flush_capable();
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 16384, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->flushable);
  if (!rdma_flush_built()) {
    // rdma-core < 45: even a connection that could post FLUSH is not used for it.
    EXPECT_FALSE(c->rdma_flush_offered());
    EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kReadAfterWrite);
    ASSERT_TRUE(c->write_and_flush(*r, 0, bytes(512)));
    EXPECT_TRUE(peer.rdma_flushes_run().empty());
    GTEST_SKIP() << "built without RDMA FLUSH (ibv_wr_flush): auto is read-after-write";
  }
  EXPECT_TRUE(c->rdma_flush_offered());
  EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kRdmaFlush);
  const auto data = bytes(6000, 4);
  ASSERT_TRUE(c->write_and_flush(*r, 1000, data));
  // One FLUSH of exactly the written range reached the target, as a FLUSH (no READ).
  const auto flushes = peer.rdma_flushes_run();
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0].addr, r->remote.addr + 1000);
  EXPECT_EQ(flushes[0].rkey, r->remote.rkey);
  EXPECT_EQ(flushes[0].length, data.size());
  const auto seen = peer.region(r->remote.rkey);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), seen.begin() + 1000));
  EXPECT_TRUE(target.commits.empty()) << "no target CPU involved";
  EXPECT_FALSE(c->broken());

  // RDMA FLUSH needs no read access, unlike read-after-write.
  auto w = c->register_region(16384, 4096, kWrite);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(c->flush_method(*w).value(), FlushMethod::kRdmaFlush);
  ASSERT_TRUE(c->write_and_flush(*w, 0, bytes(4096)));
  EXPECT_EQ(peer.rdma_flushes_run().size(), 2u);
}

TEST_F(PushClientFlushCapable, AutoFlushIsReadAfterWriteForARegionNotFlushable) {
  target.offer_flush = false;
  auto c = connect_flush_capable();
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->flushable);
  EXPECT_EQ(c->rdma_flush_offered(), rdma_flush_built());
  EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kReadAfterWrite);
  ASSERT_TRUE(c->write_and_flush(*r, 0, bytes(4096)));
  EXPECT_TRUE(peer.rdma_flushes_run().empty());
}

TEST_F(PushClientFlushCapable, ExplicitRdmaFlushOfARegionNotFlushableFailsClearly) {
  target.offer_flush = false;
  ClientOptions o = test_options();
  o.flush_method = FlushMethod::kRdmaFlush;
  auto c = connect_flush_capable(o);
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  const std::error_code expected =
      rdma_flush_built() ? make_error_code(ClientError::kNotFlushable)
                         : flush::make_error_code(flush::RemoteFlushError::kRdmaFlushNotBuilt);
  EXPECT_EQ(c->flush_method(*r).error(), expected);
  EXPECT_EQ(c->write_and_flush(*r, 0, bytes(512)).error(), expected);
  EXPECT_EQ(expected, std::errc::not_supported);
  EXPECT_TRUE(peer.rdma_flushes_run().empty());
  EXPECT_FALSE(c->broken());
}

TEST_F(PushClientFlushCapable, ARefusedRdmaFlushIsARemoteAccessError) {
  if (!rdma_flush_built()) GTEST_SKIP() << "built without RDMA FLUSH (ibv_wr_flush)";
  target.offer_flush = true;
  auto c = connect_flush_capable();
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  // A region the target says is flushable but whose registration does not allow FLUSH.
  const rdma::RemoteBuffer plain = peer.add_region(4096);  // read and write, no FLUSH
  Region lying = *r;
  lying.remote = {plain.addr, plain.rkey, plain.length};
  auto w = c->write_and_flush(lying, 0, bytes(512));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
  EXPECT_TRUE(c->broken());
}

TEST(PushClientFlushMethod, HasNames) {
  EXPECT_EQ(to_string(FlushMethod::kAuto), "auto");
  EXPECT_EQ(to_string(FlushMethod::kReadAfterWrite), "read-after-write");
  EXPECT_EQ(to_string(FlushMethod::kRdmaFlush), "rdma-flush");
  EXPECT_EQ(ClientOptions{}.flush_method, FlushMethod::kAuto);
  EXPECT_EQ(std::error_code(ClientError::kNotFlushable).message(),
            "the target did not register the region for RDMA FLUSH");
}

TEST(PushClientErrors, CategoriesSayWhoRefused) {
  EXPECT_EQ(status_error(Status::kAccessDenied).message(), "the target answered: access denied");
  EXPECT_EQ(target_status(std::make_error_code(std::errc::io_error)), std::nullopt);
  EXPECT_EQ(std::error_code(ClientError::kBroken).message(),
            "the connection failed earlier; connect again");
  EXPECT_STREQ(client_category().name(), "push-client");
  EXPECT_STREQ(status_category().name(), "push-status");
}

}  // namespace
}  // namespace tgt_pmem::push
