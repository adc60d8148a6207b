// SPDX-License-Identifier: GPL-2.0-only
// CHAP for push-mode sessions (RFC 1994 section 4.1): the response is MD5 over the one-octet
// identifier, then the secret, then the challenge. GNU Nettle computes the digest (LGPLv3+ or
// GPLv2+, so it may be linked into this GPL-2.0-only code, unlike OpenSSL 3's Apache-2.0
// libcrypto); this file is kept apart from the parsers so that they (and their fuzz target)
// need no crypto library.
#include <nettle/md5.h>
#include <sys/random.h>
#include <tgt_pmem/push/protocol.h>

#include "tgt_pmem/bytes/wipe.h"

namespace tgt_pmem::push {

std::optional<std::array<std::uint8_t, kChapResponseSize>> try_chap_response(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge) noexcept {
  static_assert(MD5_DIGEST_SIZE == kChapResponseSize);
  // The three parts go through md5_update one after the other rather than being joined in a
  // buffer first: no extra copy of the secret is made. The context's block buffer holds the
  // secret's bytes when the digest is done (md5_digest re-initialises the state, not the
  // buffer): it is wiped. The result is made in place, so that no copy of it stays behind.
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, 1, &id);
  md5_update(&ctx, secret.size(), reinterpret_cast<const std::uint8_t*>(secret.data()));
  md5_update(&ctx, challenge.size(), challenge.data());
  std::optional<std::array<std::uint8_t, kChapResponseSize>> out(std::in_place);
  md5_digest(&ctx, out->size(), out->data());
  bytes::wipe(&ctx, sizeof ctx);
  return out;
}

std::array<std::uint8_t, kChapResponseSize> chap_response(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge) {
  if (const auto r = try_chap_response(id, secret, challenge)) return *r;
  // Fail closed: a response nobody can predict, so that it authenticates nothing.
  std::array<std::uint8_t, kChapResponseSize> out{};
  if (getrandom(out.data(), out.size(), 0) != static_cast<ssize_t>(out.size())) out.fill(0);
  return out;
}

bool chap_verify(std::uint8_t id, std::string_view secret,
                 std::span<const std::uint8_t, kChapChallengeSize> challenge,
                 std::span<const std::uint8_t, kChapResponseSize> response) noexcept {
  auto expected = try_chap_response(id, secret, challenge);
  if (!expected) return false;
  // Constant time: the comparison must not tell an attacker how many leading bytes matched.
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < kChapResponseSize; ++i) diff |= (*expected)[i] ^ response[i];
  // The expected response, with the challenge, is a test of guesses at the secret offline.
  bytes::wipe(expected->data(), expected->size());
  return diff == 0;
}

}  // namespace tgt_pmem::push
