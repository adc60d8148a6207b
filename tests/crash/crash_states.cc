// SPDX-License-Identifier: GPL-2.0-only
#include "crash_states.h"

#include <algorithm>
#include <cstring>

namespace tgt_pmem::crash {

namespace {

constexpr std::uint64_t kWord = 8;
constexpr std::uint64_t kPage = 4096;

bool cpu_method(flush::Method m) {
  return m == flush::Method::kCacheFlush || m == flush::Method::kFenceOnly;
}

}  // namespace

CrashStates::CrashStates(const Trace& trace, std::span<const std::byte> initial,
                         flush::Method method)
    : trace_(trace),
      method_(method),
      current_(initial.begin(), initial.end()),
      durable_(initial.begin(), initial.end()),
      durable_seq_((initial.size() + kWord - 1) / kWord, 0) {}

std::uint64_t CrashStates::current_word(std::uint64_t word) const {
  std::uint64_t v = 0;
  std::memcpy(&v, current_.data() + word * kWord,
              std::min<std::uint64_t>(kWord, current_.size() - word * kWord));
  return v;
}

void CrashStates::forget_before(std::uint64_t word, std::uint64_t seq) {
  auto it = candidates_.find(word);
  if (it == candidates_.end()) return;
  auto& c = it->second;
  c.erase(std::remove_if(c.begin(), c.end(), [&](const Value& v) { return v.seq <= seq; }),
          c.end());
  if (c.empty()) candidates_.erase(it);
}

void CrashStates::make_durable(std::uint64_t word, Value value) {
  if (value.seq <= durable_seq_[word]) return;
  std::memcpy(durable_.data() + word * kWord, &value.v,
              std::min<std::uint64_t>(kWord, durable_.size() - word * kWord));
  durable_seq_[word] = value.seq;
  forget_before(word, value.seq);
}

void CrashStates::store(const Event& e) {
  if (e.offset > current_.size() || e.len > current_.size() - e.offset) return;  // not ours
  std::memcpy(current_.data() + e.offset, trace_.bytes.data() + e.data, e.len);
  const std::uint64_t seq = ++seq_;
  const bool pending_now = e.kind == Event::Kind::kNtStore || method_ == flush::Method::kFenceOnly;
  for (std::uint64_t w = e.offset / kWord; w * kWord < e.offset + e.len; ++w) {
    const Value v{seq, current_word(w)};
    auto& c = candidates_[w];
    c.push_back(v);
    if (pending_now)
      pending_[e.thread].push_back({w, v});
    else
      dirty_[w] = seq;
  }
}

void CrashStates::flush_range(const Event& e) {
  std::uint64_t begin = e.offset, end = e.offset + e.len;
  if (method_ == flush::Method::kMsync) {
    begin = begin / kPage * kPage;  // msync works on whole pages
    end = (end + kPage - 1) / kPage * kPage;
  }
  end = std::min<std::uint64_t>(end, current_.size());
  const std::uint64_t wb = begin / kWord, we = (end + kWord - 1) / kWord;
  auto each = [&](auto&& f) {
    // Visit the words of [wb, we) that have candidates, by whichever set is smaller.
    if (we - wb > candidates_.size()) {
      std::vector<std::uint64_t> words;
      for (const auto& [w, _] : candidates_)
        if (w >= wb && w < we) words.push_back(w);
      for (auto w : words) f(w);
    } else {
      for (std::uint64_t w = wb; w < we; ++w)
        if (candidates_.count(w)) f(w);
    }
  };
  if (cpu_method(method_)) {
    if (e.failed) return;  // nothing was written back
    auto& p = pending_[e.thread];
    each([&](std::uint64_t w) {
      p.push_back({w, {candidates_[w].back().seq, current_word(w)}});
    });
    return;
  }
  // msync: durable when it returns; a failed one leaves its pages clean but not durable.
  each([&](std::uint64_t w) {
    auto d = dirty_.find(w);
    if (d == dirty_.end()) return;
    const std::uint64_t seq = d->second;
    dirty_.erase(d);
    if (!e.failed) make_durable(w, {seq, current_word(w)});
  });
}

void CrashStates::advance_to(std::size_t point) {
  point = std::min(point, trace_.events.size());
  for (; pos_ < point; ++pos_) {
    const Event& e = trace_.events[pos_];
    switch (e.kind) {
      case Event::Kind::kStore:
      case Event::Kind::kNtStore:
        store(e);
        break;
      case Event::Kind::kFlush:
        flush_range(e);
        break;
      case Event::Kind::kDrain: {
        auto it = pending_.find(e.thread);
        if (it == pending_.end()) break;
        if (!e.failed && cpu_method(method_))
          for (const auto& p : it->second) make_durable(p.word, p.value);
        pending_.erase(it);
        break;
      }
      case Event::Kind::kSyncFile:
        if (method_ != flush::Method::kMsync) break;
        {
          std::vector<std::pair<std::uint64_t, std::uint64_t>> dirty(dirty_.begin(),
                                                                      dirty_.end());
          dirty_.clear();
          if (!e.failed)
            for (auto [w, seq] : dirty) make_durable(w, {seq, current_word(w)});
        }
        break;
      case Event::Kind::kMark:
        break;
    }
  }
}

void CrashStates::durable_into(std::vector<std::byte>& img) const {
  img.assign(durable_.begin(), durable_.end());
}

void CrashStates::latest_into(std::vector<std::byte>& img) const {
  durable_into(img);
  for (const auto& [w, c] : candidates_) {
    const std::uint64_t v = c.back().v;
    std::memcpy(img.data() + w * kWord, &v, std::min<std::uint64_t>(kWord, img.size() - w * kWord));
  }
}

void CrashStates::random_into(std::vector<std::byte>& img, std::mt19937_64& rng) const {
  durable_into(img);
  // Iterate in word order so that one seed gives one image whatever the hash map's order.
  std::vector<std::uint64_t> words;
  words.reserve(candidates_.size());
  for (const auto& [w, _] : candidates_) words.push_back(w);
  std::sort(words.begin(), words.end());
  for (auto w : words) {
    if (rng() & 1) continue;  // stays durable
    const auto& c = candidates_.at(w);
    const std::uint64_t v = c[rng() % c.size()].v;
    std::memcpy(img.data() + w * kWord, &v, std::min<std::uint64_t>(kWord, img.size() - w * kWord));
  }
}

std::vector<std::byte> CrashStates::image_durable() const { return durable_; }

std::vector<std::byte> CrashStates::image_latest() const {
  std::vector<std::byte> img;
  latest_into(img);
  return img;
}

std::vector<std::byte> CrashStates::image_random(std::mt19937_64& rng) const {
  std::vector<std::byte> img;
  random_into(img, rng);
  return img;
}

}  // namespace tgt_pmem::crash
