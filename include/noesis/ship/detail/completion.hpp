// A type-erased, move-only completion handler that remembers where it must run.
//
// Primitive operations complete from cnats threads and timers. completion<Args...> keeps the
// handler's associated executor with outstanding work tracked, so the io_context does not stop
// while the operation is pending, and invokes the handler there with asio::dispatch.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/strand.hpp>

#include <noesis/ship/detail/post_gate.hpp>
#include <noesis/ship/detail/unique_function.hpp>

namespace noesis::ship::detail {

// The io_context behind `executor` when it is an io_context executor or a strand of one (the
// executors asio hands to coroutines), otherwise nullptr.
inline asio::io_context* io_context_of(const asio::any_io_executor& executor) {
  using plain = asio::io_context::executor_type;
  using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;  // outstanding work tracked
  if (const auto* e = executor.target<plain>()) return &e->context();
  if (const auto* e = executor.target<tracked>()) return &e->context();
  if (const auto* s = executor.target<asio::strand<plain>>()) return &s->get_inner_executor().context();
  if (const auto* s = executor.target<asio::strand<asio::any_io_executor>>()) {
    return io_context_of(s->get_inner_executor());
  }
  return nullptr;
}

template <typename... Args>
class completion {
 public:
  completion() = default;

  template <typename Handler>
  completion(Handler handler, const asio::any_io_executor& fallback) {
    const asio::any_io_executor associated = asio::get_associated_executor(handler, fallback);
    io_ = io_context_of(associated);
    // NOTE: one service lookup (a mutex) per operation; alternating benchmark runs showed no
    // difference, but a per-thread cache would remove it.
    if (io_ != nullptr) gate_ = asio::use_service<post_gate_service>(*io_).state();
    executor_ = asio::prefer(associated, asio::execution::outstanding_work.tracked);
    handler_ = std::move(handler);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(handler_); }

  // Invokes the handler on its executor. Call at most once.
  //
  // The tracked executor moves into the posted function, so the outstanding work ends on the
  // handler's own thread. Ending it here, on a cnats or pool thread after the post, raced with a
  // program that stops and destroys its io_context as soon as the handler has run.
  //
  // From a thread outside the io_context, the handler's executor (often a strand) is not copied
  // here. Such a copy is destroyed after the post. When it was the strand's last reference, its
  // destructor used the strand service of an io_context that may already be gone. So the
  // function goes to the io_context's own executor, whose copies own nothing, and hops to the
  // handler's executor from there.
  void complete(Args... args) {
    if (io_ == nullptr) {
      // NOTE: an executor of another kind (a thread_pool, say) keeps the race described above.
      dispatch_to_handler(std::move(args)...);
      return;
    }
    // The gate is checked first: io_ must not be read once its io_context is being destroyed.
    std::unique_lock lock(gate_->mutex);
    if (!gate_->open) {
      // The io_context is being destroyed while this operation is pending, so it was stopped
      // with work outstanding. Destroying the handler would end that work in a scheduler that
      // is going away. NOTE: the handler is leaked instead, once per such operation.
      auto orphan = std::make_unique<completion>(std::move(*this));
      static_cast<void>(orphan.release());
      return;
    }
    if (io_->get_executor().running_in_this_thread()) {
      lock.unlock();
      dispatch_to_handler(std::move(args)...);
      return;
    }
    // From another thread, the post runs under the gate's lock: see post_gate.hpp.
    asio::post(io_->get_executor(), [work = std::move(executor_), handler = std::move(handler_),
                                    ... values = std::move(args)]() mutable {
      const asio::any_io_executor untracked = asio::prefer(work, asio::execution::outstanding_work.untracked);
      asio::dispatch(untracked, [work = std::move(work), handler = std::move(handler),
                                 ... values = std::move(values)]() mutable {
        handler(std::move(values)...);
        (void)work;
      });
    });
  }

 private:
  void dispatch_to_handler(Args... args) {
    const asio::any_io_executor untracked = asio::prefer(executor_, asio::execution::outstanding_work.untracked);
    asio::dispatch(untracked, [work = std::move(executor_), handler = std::move(handler_),
                               ... values = std::move(args)]() mutable {
      handler(std::move(values)...);
      (void)work;  // kept alive until the handler has run
    });
  }

  asio::io_context* io_ = nullptr;  // not owned; nullptr when the executor is of another kind
  std::shared_ptr<post_gate_state> gate_;  // of io_, when io_ is set
  asio::any_io_executor executor_;
  unique_function<void(Args...)> handler_;
};

}  // namespace noesis::ship::detail
