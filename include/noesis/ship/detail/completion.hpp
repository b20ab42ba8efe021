// A type-erased, move-only completion handler that remembers where it must run.
//
// Primitive operations complete from cnats threads and timers. completion<Args...> keeps the
// handler's associated executor with outstanding work tracked, so the io_context does not stop
// while the operation is pending, and invokes the handler there with asio::dispatch.
#pragma once

#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/prefer.hpp>

#include <noesis/ship/detail/unique_function.hpp>

namespace noesis::ship::detail {

template <typename... Args>
class completion {
 public:
  completion() = default;

  template <typename Handler>
  completion(Handler handler, const asio::any_io_executor& fallback)
      : executor_(asio::prefer(asio::any_io_executor(asio::get_associated_executor(handler, fallback)),
                               asio::execution::outstanding_work.tracked)),
        handler_(std::move(handler)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(handler_); }

  // Invokes the handler on its executor. Call at most once.
  //
  // The tracked executor moves into the posted function, so the outstanding work ends on the
  // handler's own thread. Ending it here, on a cnats or pool thread after the post, raced with a
  // program that stops and destroys its io_context as soon as the handler has run.
  void complete(Args... args) {
    const asio::any_io_executor untracked = asio::prefer(executor_, asio::execution::outstanding_work.untracked);
    asio::dispatch(untracked, [work = std::move(executor_), handler = std::move(handler_),
                               ... values = std::move(args)]() mutable {
      handler(std::move(values)...);
      (void)work;  // kept alive until the handler has run
    });
  }

 private:
  asio::any_io_executor executor_;
  unique_function<void(Args...)> handler_;
};

}  // namespace noesis::ship::detail
