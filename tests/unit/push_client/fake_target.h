// SPDX-License-Identifier: GPL-2.0-only
// A scripted push-mode target for the client's unit tests: it sits on the FakePeer side of
// the client's fake connection and, each time the client waits (Client's idle hook), answers
// the messages the client sent, with regions that are FakePeer regions. Its faults are the
// test's to choose: a status, no answer, a disconnect, a malformed reply.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fake_rdma.h"
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/push/protocol.h"

namespace tgt_pmem::push::test_support {

class FakeTarget {
 public:
  struct RegionState {
    rdma::RemoteBuffer remote;
    std::uint8_t access = 0;
  };

  explicit FakeTarget(tgt_pmem::testing::FakePeer peer) : peer(std::move(peer)) {
    this->peer.set_auto_complete(true);
  }

  // --- What the target says ---------------------------------------------------------------
  std::uint64_t lun_size = 1 << 20;
  std::uint32_t block_size = 512;
  Status connect_status = Status::kOk;
  bool require_chap = false;
  std::string chap_user = "alice";
  std::string chap_secret = "s3cret-s3cret";
  Status commit_status = Status::kOk;
  bool answer = true;  // false: swallow requests (the client times out)
  bool disconnect_instead_of_answer = false;
  // Writable regions are registered for RDMA FLUSH (rdma::kRemoteFlush) and said to be
  // (kRegionFlushable), as the real target does where the registration allows it.
  bool offer_flush = false;
  // Replaces the reply to the next request (a malformed one, a wrong id...).
  std::optional<std::vector<std::byte>> next_reply_override;

  // --- What it saw ----------------------------------------------------------------------------
  std::vector<Connect> connects;
  std::vector<ChapResponse> chap_responses;
  std::vector<Register> registers;
  std::vector<Commit> commits;
  // The region's bytes when each COMMIT arrived (RC ordering: after the WRITEs before it).
  std::vector<std::vector<std::byte>> contents_at_commit;
  std::vector<Unregister> unregisters;
  std::map<std::uint32_t, RegionState> regions;  // by handle
  std::size_t serves = 0;

  tgt_pmem::testing::FakePeer peer;

  // The client's idle hook.
  std::function<void()> hook() {
    return [this] { serve(); };
  }

  void serve() {
    ++serves;
    for (const auto& msg : peer.take_sent()) {
      if (!answer) continue;
      if (disconnect_instead_of_answer) {
        peer.disconnect();
        continue;
      }
      std::vector<std::byte> reply = answer_to(msg);
      if (next_reply_override) reply = *std::exchange(next_reply_override, std::nullopt);
      EXPECT_TRUE(peer.deliver(reply)) << "the client posts its receive before the request";
    }
  }

 private:
  std::vector<std::byte> answer_to(const std::vector<std::byte>& msg) {
    auto header = parse_header(msg);
    EXPECT_TRUE(header.has_value());
    if (!header) return {};
    switch (header->type) {
      case MessageType::kConnect: {
        auto c = parse_connect(msg);
        EXPECT_TRUE(c.has_value());
        connects.push_back(*c);
        ConnectReply r;
        r.request_id = c->request_id;
        r.status = connect_status;
        if (connect_status == Status::kOk && require_chap) {
          r.status = Status::kChapRequired;
          r.chap_id = chap_id_;
          for (std::size_t i = 0; i < r.chap_challenge.size(); ++i)
            r.chap_challenge[i] = static_cast<std::uint8_t>(i * 17 + 3);
          challenge_ = r.chap_challenge;
          return encode(r);
        }
        return encode(ok_connect(r));
      }
      case MessageType::kChapResponse: {
        auto c = parse_chap_response(msg);
        EXPECT_TRUE(c.has_value());
        chap_responses.push_back(*c);
        ConnectReply r;
        r.request_id = c->request_id;
        const bool good =
            c->user == chap_user && chap_verify(chap_id_, chap_secret, challenge_, c->response);
        r.status = good ? Status::kOk : Status::kAuthFailed;
        return encode(good ? ok_connect(r) : r);
      }
      case MessageType::kRegister: {
        auto m = parse_register(msg);
        EXPECT_TRUE(m.has_value());
        registers.push_back(*m);
        RegisterReply r;
        r.request_id = m->request_id;
        if (m->length == 0 || m->offset % block_size != 0 || m->length % block_size != 0 ||
            m->offset > lun_size || m->length > lun_size - m->offset) {
          r.status = Status::kOutOfRange;
          return encode(r);
        }
        unsigned access = 0;
        if (m->access & kRead) access |= rdma::kRemoteRead;
        if (m->access & kWrite) access |= rdma::kRemoteWrite;
        if (offer_flush && (m->access & kWrite)) {
          access |= rdma::kRemoteFlush;
          r.flags = kRegionFlushable;
        }
        const rdma::RemoteBuffer remote = peer.add_region(m->length, access);
        r.handle = next_handle_++;
        r.addr = remote.addr;
        r.rkey = remote.rkey;
        r.length = m->length;
        regions[r.handle] = {remote, m->access};
        return encode(r);
      }
      case MessageType::kCommit: {
        auto m = parse_commit(msg);
        EXPECT_TRUE(m.has_value());
        commits.push_back(*m);
        SimpleReply r;
        r.request_id = m->request_id;
        auto it = regions.find(m->handle);
        if (it == regions.end()) {
          r.status = Status::kNoSuchHandle;
        } else if ((it->second.access & kWrite) == 0) {
          r.status = Status::kAccessDenied;
        } else {
          const auto bytes = peer.region(it->second.remote.rkey);
          contents_at_commit.emplace_back(bytes.begin(), bytes.end());
          r.status = commit_status;
          for (const Range& range : m->ranges)
            if (range.length == 0 || range.offset > bytes.size() ||
                range.length > bytes.size() - range.offset)
              r.status = Status::kOutOfRange;
        }
        return encode(MessageType::kCommitReply, r);
      }
      case MessageType::kUnregister: {
        auto m = parse_unregister(msg);
        EXPECT_TRUE(m.has_value());
        unregisters.push_back(*m);
        SimpleReply r;
        r.request_id = m->request_id;
        auto it = regions.find(m->handle);
        if (it == regions.end()) {
          r.status = Status::kNoSuchHandle;
        } else {
          peer.remove_region(it->second.remote.rkey);
          regions.erase(it);
        }
        return encode(MessageType::kUnregisterReply, r);
      }
      default:
        ADD_FAILURE() << "the client sent message type " << static_cast<int>(header->type);
        return {};
    }
  }

  ConnectReply ok_connect(ConnectReply r) const {
    if (r.status != Status::kOk) return r;
    r.lun_size = lun_size;
    r.block_size = block_size;
    r.max_regions = 8;
    r.max_exposed = lun_size;
    return r;
  }

  std::uint8_t chap_id_ = 42;
  std::array<std::uint8_t, kChapChallengeSize> challenge_{};
  std::uint32_t next_handle_ = 1;
};

// A connected client on a fresh fake connection with `target` answering.
inline ClientOptions test_options() {
  ClientOptions o;
  o.initiator_name = "iqn.2024-01.org.tgt-pmem:client";
  o.target_name = "iqn.2024-01.org.tgt-pmem:push";
  o.lun = 1;
  o.timeout = std::chrono::milliseconds(2000);
  return o;
}

}  // namespace tgt_pmem::push::test_support
