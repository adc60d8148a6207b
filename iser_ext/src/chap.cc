// SPDX-License-Identifier: GPL-2.0-only
// CHAP for push-mode sessions (RFC 1994 section 4.1): the response is MD5 over the one-octet
// identifier, then the secret, then the challenge. libcrypto computes the digest; this file is
// kept apart from the parsers so that they (and their fuzz target) do not need libcrypto.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <tgt_pmem/push/protocol.h>

#include <memory>

namespace tgt_pmem::push {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

std::optional<std::array<std::uint8_t, kChapResponseSize>> try_chap_response(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge) noexcept {
  // The three parts go through DigestUpdate one after the other rather than being joined in
  // a buffer first: no extra heap copy of the secret is made.
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return std::nullopt;
  const EVP_MD* md = EVP_md5();
  if (md == nullptr || EVP_MD_get_size(md) != static_cast<int>(kChapResponseSize)) {
    return std::nullopt;
  }
  std::array<std::uint8_t, kChapResponseSize> out{};
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 || EVP_DigestUpdate(ctx.get(), &id, 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), challenge.data(), challenge.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != kChapResponseSize) {
    return std::nullopt;
  }
  return out;
}

std::array<std::uint8_t, kChapResponseSize> chap_response(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge) {
  if (const auto r = try_chap_response(id, secret, challenge)) return *r;
  // Fail closed: a response nobody can predict, so that it authenticates nothing.
  std::array<std::uint8_t, kChapResponseSize> out{};
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) out.fill(0);
  return out;
}

bool chap_verify(std::uint8_t id, std::string_view secret,
                 std::span<const std::uint8_t, kChapChallengeSize> challenge,
                 std::span<const std::uint8_t, kChapResponseSize> response) noexcept {
  const auto expected = try_chap_response(id, secret, challenge);
  if (!expected) return false;
  // Constant time: the comparison must not tell an attacker how many leading bytes matched.
  return CRYPTO_memcmp(expected->data(), response.data(), kChapResponseSize) == 0;
}

}  // namespace tgt_pmem::push
