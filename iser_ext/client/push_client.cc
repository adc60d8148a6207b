// SPDX-License-Identifier: GPL-2.0-only
// The push-mode client: the protocol's requests (CONNECT, CHAP_RESPONSE, REGISTER, COMMIT,
// UNREGISTER) and the region checks, over the data path of transport.h.
#include <algorithm>
#include <new>
#include <utility>

#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/connection.h"
#include "transport.h"

namespace tgt_pmem::push {

using client_detail::Transport;

namespace {

std::unexpected<std::error_code> fail(ClientError e) { return std::unexpected(make_error_code(e)); }
std::unexpected<std::error_code> fail(std::errc e) {
  return std::unexpected(std::make_error_code(e));
}

// What the client asks of its queue pair: one request in flight (SEND + its RECV), a WRITE
// or READ, and a read-after-write READ behind it, with room to spare.
rdma::QueueLimits client_limits() {
  rdma::QueueLimits l;
  l.send_depth = 16;
  l.recv_depth = 4;
  l.max_sge = 1;
  l.rdma_read_depth = 4;
  l.responder_resources = 1;  // the target never reads from us in push mode
  return l;
}

Result<void> check_range(const Region& region, std::uint64_t offset, std::uint64_t length) {
  if (offset > region.length() || length > region.length() - offset)
    return fail(ClientError::kOutsideRegion);
  return {};
}

rdma::RemoteBuffer piece(const RemoteRegion& remote, std::uint64_t offset, std::size_t length) {
  return {remote.addr + offset, remote.rkey, static_cast<std::uint32_t>(length)};
}

// RDMA FLUSH names its range with a 32-bit length: a longer range goes in pieces of 1 GiB, at
// most kFlushBatch of them outstanding (the send queue has client_limits().send_depth slots).
constexpr std::uint64_t kFlushPiece = 1ull << 30;
constexpr std::size_t kFlushBatch = 8;

}  // namespace

class Client::Impl {
 public:
  Impl(const ClientOptions& options, std::unique_ptr<Transport> transport)
      : options_(options), transport_(std::move(transport)) {}

  // CONNECT, then CHAP_RESPONSE if the target asks for it.
  Result<void> login() {
    if (options_.initiator_name.size() > kMaxNameLength ||
        options_.target_name.size() > kMaxNameLength || options_.chap_user.size() > kMaxNameLength)
      return fail(std::errc::invalid_argument);
    Connect c;
    c.request_id = next_request_id();
    c.initiator_name = options_.initiator_name;
    c.target_name = options_.target_name;
    c.lun = options_.lun;
    auto reply = transact(encode(c), MessageType::kConnectReply, c.request_id);
    if (!reply) return std::unexpected(reply.error());
    auto parsed = parse_connect_reply(*reply);
    if (!parsed) return bad_reply();

    if (parsed->status == Status::kChapRequired) {
      if (options_.chap_user.empty()) return std::unexpected(status_error(Status::kChapRequired));
      ChapResponse r;
      r.request_id = next_request_id();
      r.user = options_.chap_user;
      auto digest =
          try_chap_response(parsed->chap_id, options_.chap_secret, parsed->chap_challenge);
      if (!digest) return fail(ClientError::kChapUnavailable);
      r.response = *digest;
      reply = transact(encode(r), MessageType::kConnectReply, r.request_id);
      if (!reply) return std::unexpected(reply.error());
      parsed = parse_connect_reply(*reply);
      if (!parsed) return bad_reply();
      if (parsed->status == Status::kChapRequired) return bad_reply();  // one round only
    }
    if (parsed->status != Status::kOk) return std::unexpected(status_error(parsed->status));
    info_ = *parsed;
    return {};
  }

  Result<Region> register_region(std::uint64_t offset, std::uint64_t length, std::uint8_t access) {
    Register m;
    m.request_id = next_request_id();
    m.offset = offset;
    m.length = length;
    m.access = access;
    auto reply = transact(encode(m), MessageType::kRegisterReply, m.request_id);
    if (!reply) return std::unexpected(reply.error());
    auto r = parse_register_reply(*reply);
    if (!r) return bad_reply();
    if (r->status != Status::kOk) return std::unexpected(status_error(r->status));
    Region region;
    region.handle = r->handle;
    region.lun_offset = offset;
    region.access = access;
    region.remote = {r->addr, r->rkey, r->length};
    region.flushable = (r->flags & kRegionFlushable) != 0;
    return region;
  }

  Result<void> commit(const Region& region, std::span<const Range> ranges) {
    if (ranges.size() > kMaxCommitRanges) return fail(std::errc::invalid_argument);
    if (auto posted = post_commit(region, ranges); !posted) return posted;
    if (auto done = transport_->wait(); !done) return done;
    return simple_reply(MessageType::kCommitReply);
  }

  Result<void> unregister(const Region& region) {
    Unregister m;
    m.request_id = next_request_id();
    m.handle = region.handle;
    auto reply = transact(encode(m), MessageType::kUnregisterReply, m.request_id);
    if (!reply) return std::unexpected(reply.error());
    return simple_reply(MessageType::kUnregisterReply);
  }

  // RDMA WRITE of data at remote + offset, piece by piece through the staging buffer. With
  // `then` set, it is posted behind the last piece and waited for with it.
  template <class Then>
  Result<void> write(const RemoteRegion& remote, std::uint64_t offset,
                     std::span<const std::byte> data, Then then) {
    const std::span<std::byte> staging = transport_->staging();
    std::size_t done = 0;
    do {
      const std::size_t n = std::min(data.size() - done, staging.size());
      const bool last = done + n == data.size();
      if (n != 0) {
        std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(done), n, staging.begin());
        if (auto p = transport_->post_write(0, piece(remote, offset + done, n)); !p) return p;
      }
      if (last)
        if (auto p = then(); !p) {
          // Reap what went out, so that its completion does not outlive this call.
          (void)transport_->wait();
          return p;
        }
      if (auto w = transport_->wait(); !w) return w;
      done += n;
    } while (done < data.size());
    return {};
  }

  Result<void> read(const RemoteRegion& remote, std::uint64_t offset, std::span<std::byte> out) {
    const std::span<std::byte> staging = transport_->staging();
    for (std::size_t done = 0; done < out.size();) {
      const std::size_t n = std::min(out.size() - done, staging.size());
      if (auto p = transport_->post_read(0, piece(remote, offset + done, n)); !p) return p;
      if (auto w = transport_->wait(); !w) return w;
      std::copy_n(staging.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
      done += n;
    }
    return {};
  }

  // The one-sided flush write_and_flush() uses for region (Client::flush_method()).
  Result<flush::RemoteMethod> flush_method(const Region& region) const {
    switch (options_.flush_method) {
      case FlushMethod::kReadAfterWrite:
        return flush::RemoteMethod::kReadAfterWrite;
      case FlushMethod::kRdmaFlush:
        // Asked for by name: never another method in its place.
        if (auto a = transport_->rdma_flush_available(); !a) return std::unexpected(a.error());
        if (!region.flushable) return fail(ClientError::kNotFlushable);
        return flush::RemoteMethod::kRdmaFlush;
      case FlushMethod::kAuto:
        break;
    }
    return transport_->rdma_flush_available() && region.flushable
               ? flush::RemoteMethod::kRdmaFlush
               : flush::RemoteMethod::kReadAfterWrite;
  }

  // The remote flush of [offset, offset + length) of the region, posted behind the WRITEs.
  // Read-after-write: only the range's tail matters (the flusher reads its last bytes), so a
  // range beyond 4 GiB is cut to it. RDMA FLUSH: the whole range, which the responder makes
  // persistent after the WRITEs before it.
  Result<void> post_flush(const Region& region, std::uint64_t offset, std::uint64_t length,
                          flush::RemoteMethod method) {
    if (method == flush::RemoteMethod::kReadAfterWrite) {
      const std::uint64_t tail = std::min<std::uint64_t>(length, transport_->staging().size());
      return transport_->post_flush(method, piece(region.remote, offset + length - tail, tail));
    }
    std::size_t outstanding = 0;
    for (std::uint64_t done = 0; done < length;) {
      if (outstanding == kFlushBatch) {
        if (auto w = transport_->wait(); !w) return w;
        outstanding = 0;
      }
      const std::uint64_t n = std::min(length - done, kFlushPiece);
      if (auto p = transport_->post_flush(method, piece(region.remote, offset + done, n)); !p)
        return p;
      ++outstanding;
      done += n;
    }
    return {};
  }

  // COMMIT posted behind whatever was posted before (RC keeps the order); its reply is
  // read by simple_reply() after wait().
  Result<void> post_commit(const Region& region, std::span<const Range> ranges) {
    Commit m;
    m.request_id = next_request_id();
    m.handle = region.handle;
    try {
      m.ranges.assign(ranges.begin(), ranges.end());
    } catch (const std::bad_alloc&) {
      return fail(std::errc::not_enough_memory);
    }
    expected_reply_id_ = m.request_id;
    return transport_->post_request(encode(m));
  }

  Result<void> simple_reply(MessageType type) {
    auto bytes = check_reply(type, expected_reply_id_);
    if (!bytes) return std::unexpected(bytes.error());
    auto r = parse_simple_reply(type, *bytes);
    if (!r) return bad_reply();
    if (r->status != Status::kOk) return std::unexpected(status_error(r->status));
    return {};
  }

  Transport& transport() noexcept { return *transport_; }
  const ConnectReply& info() const noexcept { return info_; }

 private:
  std::uint32_t next_request_id() noexcept { return next_request_id_++; }

  std::unexpected<std::error_code> bad_reply() {
    transport_->break_with(make_error_code(ClientError::kBadReply));
    return fail(ClientError::kBadReply);
  }

  // Sends one request and waits for its reply; the reply's bytes, its header checked.
  Result<std::span<const std::byte>> transact(const std::vector<std::byte>& message,
                                              MessageType reply_type, std::uint32_t request_id) {
    if (message.empty()) return fail(std::errc::invalid_argument);  // encode() refused it
    expected_reply_id_ = request_id;
    if (auto posted = transport_->post_request(message); !posted)
      return std::unexpected(posted.error());
    if (auto done = transport_->wait(); !done) return std::unexpected(done.error());
    return check_reply(reply_type, request_id);
  }

  // The reply must answer our request with the reply of its type, except that the target
  // answers what it will not take with a CONNECT_REPLY (kBadRequest, kUnsupported).
  Result<std::span<const std::byte>> check_reply(MessageType reply_type, std::uint32_t request_id) {
    const std::span<const std::byte> bytes = transport_->reply();
    auto header = parse_header(bytes);
    if (!header || header->request_id != request_id) return bad_reply();
    if (header->type == reply_type) return bytes;
    if (header->type == MessageType::kConnectReply) {
      auto r = parse_connect_reply(bytes);
      if (r && r->status != Status::kOk && r->status != Status::kChapRequired)
        return std::unexpected(status_error(r->status));
    }
    return bad_reply();
  }

  ClientOptions options_;
  std::unique_ptr<Transport> transport_;
  ConnectReply info_;
  std::uint32_t next_request_id_ = 1;
  std::uint32_t expected_reply_id_ = 0;
};

// --- Client ----------------------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::connect(const ClientOptions& options) {
  auto conn = rdma::connect(options.address, options.port, {}, client_limits(), options.timeout);
  if (!conn) return std::unexpected(conn.error());
  return connect_over(std::move(*conn), options, {});
}

Result<Client> Client::connect_over(std::unique_ptr<rdma::Connection> connection,
                                    const ClientOptions& options, IdleHook idle) {
  auto transport = Transport::make(std::move(connection), options.staging_bytes, options.timeout,
                                   std::move(idle));
  if (!transport) return std::unexpected(transport.error());
  (*transport)->set_poll(options.poll);
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(options, std::move(*transport));
  } catch (const std::bad_alloc&) {
    return fail(std::errc::not_enough_memory);
  }
  if (auto in = impl->login(); !in) return std::unexpected(in.error());
  return Client(std::move(impl));
}

std::uint64_t Client::lun_size() const noexcept { return impl_->info().lun_size; }
std::uint32_t Client::block_size() const noexcept { return impl_->info().block_size; }
std::uint32_t Client::max_regions() const noexcept { return impl_->info().max_regions; }
std::uint64_t Client::max_exposed() const noexcept { return impl_->info().max_exposed; }
std::string Client::peer_address() const { return impl_->transport().connection().peer_address(); }
bool Client::broken() const noexcept { return impl_->transport().broken(); }
bool Client::rdma_flush_offered() const noexcept {
  return impl_->transport().rdma_flush_available().has_value();
}

Result<FlushMethod> Client::flush_method(const Region& region) const {
  auto m = impl_->flush_method(region);
  if (!m) return std::unexpected(m.error());
  return *m == flush::RemoteMethod::kRdmaFlush ? FlushMethod::kRdmaFlush
                                               : FlushMethod::kReadAfterWrite;
}

Result<Region> Client::register_region(std::uint64_t offset, std::uint64_t length,
                                       std::uint8_t access) {
  if (auto u = impl_->transport().usable(); !u) return std::unexpected(u.error());
  return impl_->register_region(offset, length, access);
}

Result<void> Client::write(const Region& region, std::uint64_t offset,
                           std::span<const std::byte> data) {
  if (auto u = impl_->transport().usable(); !u) return u;
  if ((region.access & kWrite) == 0) return fail(ClientError::kNotWritable);
  if (auto r = check_range(region, offset, data.size()); !r) return r;
  return impl_->write(region.remote, offset, data, [] { return Result<void>(); });
}

Result<void> Client::read(const Region& region, std::uint64_t offset, std::span<std::byte> out) {
  if (auto u = impl_->transport().usable(); !u) return u;
  if ((region.access & kRead) == 0) return fail(ClientError::kNotReadable);
  if (auto r = check_range(region, offset, out.size()); !r) return r;
  return impl_->read(region.remote, offset, out);
}

Result<void> Client::commit(const Region& region, std::span<const Range> ranges) {
  if (auto u = impl_->transport().usable(); !u) return u;
  return impl_->commit(region, ranges);
}

Result<void> Client::flush_read_after_write(const Region& region, std::uint64_t offset,
                                            std::uint64_t length) {
  if (auto u = impl_->transport().usable(); !u) return u;
  if ((region.access & kRead) == 0) return fail(ClientError::kNotReadable);
  if (auto r = check_range(region, offset, length); !r) return r;
  if (length == 0) return {};
  if (auto p = impl_->post_flush(region, offset, length, flush::RemoteMethod::kReadAfterWrite); !p)
    return p;
  return impl_->transport().wait();
}

Result<void> Client::write_and_commit(const Region& region, std::uint64_t offset,
                                      std::span<const std::byte> data) {
  if (auto u = impl_->transport().usable(); !u) return u;
  if ((region.access & kWrite) == 0) return fail(ClientError::kNotWritable);
  if (auto r = check_range(region, offset, data.size()); !r) return r;
  if (data.empty()) return {};
  const Range range{offset, data.size()};
  auto written = impl_->write(region.remote, offset, data, [&] {
    return impl_->post_commit(region, {&range, 1});
  });
  if (!written) return written;
  return impl_->simple_reply(MessageType::kCommitReply);
}

Result<void> Client::write_and_flush(const Region& region, std::uint64_t offset,
                                     std::span<const std::byte> data) {
  if (auto u = impl_->transport().usable(); !u) return u;
  if ((region.access & kWrite) == 0) return fail(ClientError::kNotWritable);
  const auto method = impl_->flush_method(region);
  if (!method) return std::unexpected(method.error());
  // The READ of read-after-write needs read access; RDMA FLUSH needs only the registration.
  if (*method == flush::RemoteMethod::kReadAfterWrite && (region.access & kRead) == 0)
    return fail(ClientError::kNotReadable);
  if (auto r = check_range(region, offset, data.size()); !r) return r;
  if (data.empty()) return {};
  return impl_->write(region.remote, offset, data,
                      [&] { return impl_->post_flush(region, offset, data.size(), *method); });
}

Result<void> Client::unregister(const Region& region) {
  if (auto u = impl_->transport().usable(); !u) return u;
  return impl_->unregister(region);
}

Result<void> Client::write_raw(const RemoteRegion& remote, std::uint64_t offset,
                               std::span<const std::byte> data) {
  if (auto u = impl_->transport().usable(); !u) return u;
  return impl_->write(remote, offset, data, [] { return Result<void>(); });
}

Result<void> Client::read_raw(const RemoteRegion& remote, std::uint64_t offset,
                              std::span<std::byte> out) {
  if (auto u = impl_->transport().usable(); !u) return u;
  return impl_->read(remote, offset, out);
}

}  // namespace tgt_pmem::push
