// A gate that closes when an io_context starts to shut down, so a thread outside the
// io_context never posts to it while it is being destroyed.
//
// asio's post from another thread releases the scheduler's lock and then signals its condition
// variable. If the io_context ran the posted function, ran out of work and was destroyed in
// between, that signal used a destroyed condition variable (ThreadSanitizer reports it). A post
// made while holding the gate's lock cannot overlap the destruction: the io_context shuts its
// services down, this one included, before it destroys the scheduler, and closing the gate
// waits for the lock.
#pragma once

#include <memory>
#include <mutex>

#include <asio/execution_context.hpp>

namespace noesis::ship::detail {

// The lock and the open flag. Completions keep it by shared_ptr, so it outlives the service.
struct post_gate_state {
  std::mutex mutex;
  bool open = true;
};

class post_gate_service : public asio::execution_context::service {
 public:
  using key_type = post_gate_service;
  static inline asio::execution_context::id id;

  explicit post_gate_service(asio::execution_context& context)
      : asio::execution_context::service(context), state_(std::make_shared<post_gate_state>()) {}

  const std::shared_ptr<post_gate_state>& state() const noexcept { return state_; }

 private:
  void shutdown() override {
    std::lock_guard lock(state_->mutex);
    state_->open = false;
  }

  std::shared_ptr<post_gate_state> state_;
};

}  // namespace noesis::ship::detail
