// SPDX-License-Identifier: GPL-2.0-only
// A client-side rdma::Connection that carries its work to the REAL push-mode service
// (iser_ext/src/push_*.cc) in the same process, for the push clients' tests: the service
// holds a fake connection (fake_rdma.h) as in its own tests, and the Bridge carries SEND ->
// deliver(), RDMA WRITE / READ -> peer_rdma_write() / peer_rdma_read() into the memory the
// service registered, and the service's SENDs back into the client's posted receives
// (pump()). Work runs at once when posted; its completions wait for poll().
#pragma once

#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include "fake_rdma.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::testing {

// Not final: FlushBridge is one that also carries RDMA FLUSH.
class Bridge : public rdma::Connection {
 public:
  explicit Bridge(FakePeer target) : target_(std::move(target)) { limits_.max_sge = 1; }
  ~Bridge() override { target_.disconnect(); }

  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                                    unsigned access) override {
    const std::uint32_t key = next_key_++;
    regions_[key] = {static_cast<std::byte*>(addr), len, access};
    return std::make_unique<Mr>(*this, key);
  }
  // The client exposes none of its memory to the target.
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory_at(void*, std::size_t,
                                                                       unsigned,
                                                                       std::uint64_t) override {
    return std::unexpected(std::make_error_code(std::errc::operation_not_supported));
  }

  rdma::Status post_recv(std::uint64_t wr_id, rdma::LocalBuffer buf) override {
    if (error_)
      complete(wr_id, rdma::WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
    else
      recvs_.push_back({wr_id, buf});
    return {};
  }

  rdma::Status post_send(std::uint64_t wr_id, rdma::LocalBuffer buf) override {
    ++sends;
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kSend);
    if (!local_ok(buf, false)) return failed(wr_id, rdma::WorkType::kSend, IBV_WC_LOC_PROT_ERR);
    // The service keeps receives posted; none posted would be RNR retries for ever.
    if (!target_.deliver({buf.addr, buf.length}))
      return failed(wr_id, rdma::WorkType::kSend, IBV_WC_RNR_RETRY_EXC_ERR);
    complete(wr_id, rdma::WorkType::kSend, IBV_WC_SUCCESS);
    return {};
  }

  rdma::Status post_rdma_write(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> src,
                               rdma::RemoteBuffer dst) override {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaWrite);
    if (src.size() != 1 || !local_ok(src[0], false))
      return failed(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_LOC_PROT_ERR);
    const int status = target_.peer_rdma_write(dst.rkey, dst.addr, {src[0].addr, src[0].length});
    if (status != IBV_WC_SUCCESS) return failed(wr_id, rdma::WorkType::kRdmaWrite, status);
    complete(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_SUCCESS);
    return {};
  }

  rdma::Status post_rdma_read(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> dst,
                              rdma::RemoteBuffer src) override {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaRead);
    if (dst.size() != 1 || !local_ok(dst[0], true))
      return failed(wr_id, rdma::WorkType::kRdmaRead, IBV_WC_LOC_PROT_ERR);
    auto bytes = target_.peer_rdma_read(src.rkey, src.addr, src.length);
    if (!bytes) return failed(wr_id, rdma::WorkType::kRdmaRead, bytes.error());
    std::memcpy(dst[0].addr, bytes->data(), bytes->size());
    complete(wr_id, rdma::WorkType::kRdmaRead, IBV_WC_SUCCESS);
    ++reads;
    return {};
  }

  // Each request as its own post does it (the bridge runs work at once); an unsignalled
  // one that succeeded leaves no completion.
  rdma::Status post_chain(std::span<const rdma::SendWork> chain) override {
    if (chain.empty() || !chain.back().signaled)
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    for (const rdma::SendWork& w : chain) {
      const std::size_t before = completions_.size();
      rdma::Status s;
      if (w.type == rdma::WorkType::kSend && w.local.size() == 1)
        s = post_send(w.wr_id, w.local[0]);
      else if (w.type == rdma::WorkType::kRdmaWrite)
        s = post_rdma_write(w.wr_id, w.local, w.remote);
      else if (w.type == rdma::WorkType::kRdmaRead)
        s = post_rdma_read(w.wr_id, w.local, w.remote);
      else
        return std::unexpected(std::make_error_code(std::errc::invalid_argument));
      if (!s) return s;
      if (!w.signaled && completions_.size() > before && completions_.back().ok)
        completions_.pop_back();
    }
    return {};
  }

  rdma::Result<std::size_t> poll(std::span<rdma::Completion> out) override {
    std::size_t n = 0;
    while (n < out.size() && !completions_.empty()) {
      out[n++] = completions_.front();
      completions_.pop_front();
    }
    return n;
  }
  int completion_fd() const noexcept override { return -1; }
  rdma::Status arm() override { return {}; }
  void disconnect() noexcept override {
    enter_error();
    target_.disconnect();
  }
  const rdma::QueueLimits& limits() const noexcept override { return limits_; }
  std::string peer_address() const override { return "192.0.2.1:5566"; }

  // The service's replies into our receives (the client's idle hook calls this).
  void pump() {
    for (auto& msg : target_.take_sent()) {
      if (error_ || recvs_.empty()) {
        ADD_FAILURE() << "the service sent with no receive posted";
        continue;
      }
      const Recv r = recvs_.front();
      recvs_.pop_front();
      if (msg.size() > r.buf.length || !local_ok(r.buf, true)) {
        failed(r.wr_id, rdma::WorkType::kRecv, IBV_WC_LOC_LEN_ERR);
        continue;
      }
      std::memcpy(r.buf.addr, msg.data(), msg.size());
      complete(r.wr_id, rdma::WorkType::kRecv, IBV_WC_SUCCESS,
               static_cast<std::uint32_t>(msg.size()));
    }
    notice_disconnect();
  }

  // RDMA FLUSH -> peer_rdma_flush() of the memory the service registered (FlushBridge).
  rdma::Status flush(std::uint64_t wr_id, rdma::RemoteBuffer dst) {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaWrite);
    const int status = target_.peer_rdma_flush(dst.rkey, dst.addr, dst.length);
    if (status != IBV_WC_SUCCESS) return failed(wr_id, rdma::WorkType::kRdmaWrite, status);
    complete(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_SUCCESS);
    ++flushes;
    return {};
  }

  std::size_t sends = 0;  // messages the client sent
  std::size_t reads = 0;
  std::size_t flushes = 0;
  std::size_t live_regions() const { return regions_.size(); }
  FakePeer& target() { return target_; }

 private:
  struct Local {
    std::byte* addr;
    std::size_t len;
    unsigned access;
  };
  struct Recv {
    std::uint64_t wr_id;
    rdma::LocalBuffer buf;
  };
  class Mr final : public rdma::MemoryRegion {
   public:
    Mr(Bridge& b, std::uint32_t key) : b_(b), key_(key) {}
    ~Mr() override { b_.regions_.erase(key_); }
    std::byte* data() const noexcept override { return b_.regions_.at(key_).addr; }
    std::size_t size() const noexcept override { return b_.regions_.at(key_).len; }
    std::uint32_t lkey() const noexcept override { return key_; }
    std::uint32_t rkey() const noexcept override { return key_; }

   private:
    Bridge& b_;
    std::uint32_t key_;
  };

  bool local_ok(const rdma::LocalBuffer& b, bool hca_writes) const {
    auto it = regions_.find(b.lkey);
    if (it == regions_.end()) return false;
    if (hca_writes && (it->second.access & (rdma::kLocalWrite | rdma::kRemoteWrite)) == 0)
      return false;
    return b.addr >= it->second.addr && b.addr + b.length <= it->second.addr + it->second.len;
  }
  void complete(std::uint64_t wr_id, rdma::WorkType type, int status, std::uint32_t len = 0) {
    rdma::Completion c;
    c.wr_id = wr_id;
    c.type = type;
    c.ok = status == IBV_WC_SUCCESS;
    c.vendor_status = status;
    c.byte_len = len;
    completions_.push_back(c);
  }
  rdma::Status flushed(std::uint64_t wr_id, rdma::WorkType type) {
    complete(wr_id, type, IBV_WC_WR_FLUSH_ERR);
    return {};
  }
  rdma::Status failed(std::uint64_t wr_id, rdma::WorkType type, int status) {
    complete(wr_id, type, status);
    enter_error();
    return {};
  }
  // The target went away (it closed the connection): our QP flushes, as a real one does
  // when RDMA CM reports DISCONNECTED (rdma::connect's contract).
  void notice_disconnect() {
    if (target_.in_error()) enter_error();
  }
  void enter_error() {
    if (error_) return;
    error_ = true;
    for (const Recv& r : recvs_) complete(r.wr_id, rdma::WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
    recvs_.clear();
  }

  FakePeer target_;
  rdma::QueueLimits limits_;
  std::map<std::uint32_t, Local> regions_;
  std::uint32_t next_key_ = 0x5000;
  std::deque<Recv> recvs_;
  std::deque<rdma::Completion> completions_;
  bool error_ = false;
};

// A bridge whose connection can post RDMA FLUSH (rdma::FlushCapable).
class FlushBridge final : public Bridge, public rdma::FlushCapable {
 public:
  using Bridge::Bridge;
  rdma::Status post_rdma_flush(std::uint64_t wr_id, rdma::RemoteBuffer dst) override {
    return flush(wr_id, dst);
  }
};

}  // namespace tgt_pmem::testing
