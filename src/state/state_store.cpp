#include "state/state_store.hpp"

#include <stdexcept>

namespace equalis::state {

StateStore::StateStore(std::vector<int> blocks_per_string, DurationMs stale_after_ms)
    : blocks_per_string_(std::move(blocks_per_string)), stale_after_ms_(stale_after_ms) {
  for (int n : blocks_per_string_) {
    block_offset_.push_back(total_blocks_);
    total_blocks_ += static_cast<std::size_t>(n);
  }
  std::size_t offset = 0;
  for (const auto& def : model::catalogue()) {
    point_offset_.push_back(offset);
    point_scope_.push_back(def.scope);
    switch (def.scope) {
      case model::Scope::kSystem:
        offset += 1;
        break;
      case model::Scope::kString:
        offset += blocks_per_string_.size();
        break;
      case model::Scope::kBlock:
        offset += total_blocks_;
        break;
    }
  }
  samples_.resize(offset);
}

void StateStore::throwOutOfRange(const char* what) {
  throw std::out_of_range(what);
}

StateStore::Writer::Writer(StateStore& store) : store_(store), lock_(store.mutex_) {}

StateStore::Writer::~Writer() {
  store_.version_ += 1;
  lock_.unlock();
  std::lock_guard wait_lock(store_.wait_mutex_);
  store_.wait_cv_.notify_all();
}

StateStore::Reader::Reader(const StateStore& store, TimeMs now_ms)
    : store_(store), lock_(store.mutex_), now_ms_(now_ms) {}

StateStore::Reader::Reader(const Writer& writer, TimeMs now_ms)
    : store_(writer.store_), now_ms_(now_ms) {}

std::uint64_t StateStore::version() const {
  std::shared_lock lock(mutex_);
  return version_;
}

std::uint64_t StateStore::waitForChange(std::uint64_t seen,
                                        std::chrono::milliseconds timeout) const {
  std::unique_lock lock(wait_mutex_);
  wait_cv_.wait_for(lock, timeout, [&] { return version() != seen; });
  return version();
}

void StateStore::notifyAll() const {
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

}  // namespace equalis::state
