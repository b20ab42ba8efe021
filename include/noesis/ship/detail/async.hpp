// Plumbing that turns the library's internal operations into asio initiating functions.
//
// Two kinds of operation exist:
//  - primitive operations (a request, the next message of a subscription) complete a handler
//    from a cnats thread or a timer. initiate() adapts them to any completion token.
//  - composed operations (KV, object store, JetStream calls) are written as asio::awaitable
//    coroutines over the primitives. run_awaitable() returns the coroutine itself for the default
//    token and co_spawns it for any other token, converting exceptions to error codes.
#pragma once

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/associator.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/error.hpp>
#include <noesis/ship/use_awaitable.hpp>

namespace noesis::ship::detail {

template <typename T>
struct signatures {
  using with_code = void(std::error_code, T);
  using with_exception = void(std::exception_ptr, T);
};
template <>
struct signatures<void> {
  using with_code = void(std::error_code);
  using with_exception = void(std::exception_ptr);
};

template <typename Token>
inline constexpr bool is_default_token = std::is_same_v<std::decay_t<Token>, use_awaitable_t>;

// Converts an (error_code, value) completion into an (exception_ptr, value) one, adding the
// operation's context to the exception. Forwards the wrapped handler's associated executor,
// allocator and cancellation slot, so the coroutine resumes where asio expects it to.
template <typename Handler, typename T>
class context_handler {
 public:
  context_handler(Handler handler, std::string context)
      : handler_(std::move(handler)), context_(std::move(context)) {}

  template <typename... Values>
  void operator()(std::error_code ec, Values&&... values) {
    std::exception_ptr failure;
    if (ec) failure = std::make_exception_ptr(error(ec, context_));
    std::move(handler_)(failure, std::forward<Values>(values)...);
  }

  const Handler& handler() const noexcept { return handler_; }

 private:
  Handler handler_;
  std::string context_;
};

// Maps an exception caught at the edge of a composed operation to an error code.
inline std::error_code code_from_exception(const std::exception_ptr& failure) {
  if (!failure) return {};
  try {
    std::rethrow_exception(failure);
  } catch (const std::system_error& e) {
    return e.code();
  } catch (const nlohmann::json::exception&) {
    return errc::serialization;
  } catch (...) {
    return std::make_error_code(std::errc::state_not_recoverable);
  }
}

// Starts a primitive operation. `init` receives a handler with signature
// void(std::error_code[, T]). For the default token the failure becomes an exception naming
// `context`; for other tokens the error code is passed through.
template <typename T, typename Token, typename Init>
auto initiate(Token&& token, std::string context, Init init) {
  if constexpr (is_default_token<Token>) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, typename signatures<T>::with_exception>(
        [init = std::move(init), context = std::move(context)](auto handler) mutable {
          using handler_type = decltype(handler);
          init(context_handler<handler_type, T>(std::move(handler), std::move(context)));
        },
        asio::use_awaitable);
  } else {
    return asio::async_initiate<Token, typename signatures<T>::with_code>(std::move(init), token);
  }
}

// Runs a composed operation written as a coroutine. For the default token the coroutine is
// returned as it is, so it runs inline in the caller's coroutine. For other tokens it is spawned
// on `executor` and its outcome is delivered as (error_code, value).
template <typename T, typename Executor, typename Token>
auto run_awaitable(const Executor& executor, Token&& token, asio::awaitable<T> operation) {
  if constexpr (is_default_token<Token>) {
    return operation;
  } else {
    return asio::async_initiate<Token, typename signatures<T>::with_code>(
        [executor](auto handler, asio::awaitable<T> op) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          auto handler_executor = asio::get_associated_executor(handler, executor);
          auto done = [handler = std::move(handler), handler_executor](std::exception_ptr failure,
                                                                       auto... value) mutable {
            const std::error_code ec = code_from_exception(failure);
            asio::dispatch(handler_executor,
                           [handler = std::move(handler), ec, ... values = std::move(value)]() mutable {
                             std::move(handler)(ec, std::move(values)...);
                           });
          };
          asio::co_spawn(executor, std::move(op), asio::bind_cancellation_slot(slot, std::move(done)));
        },
        token, std::move(operation));
  }
}

}  // namespace noesis::ship::detail

namespace asio {

// Lets executor, allocator and cancellation-slot queries see through context_handler.
template <template <typename, typename> class Associator, typename Handler, typename T, typename Default>
struct associator<Associator, noesis::ship::detail::context_handler<Handler, T>, Default> {
  using type = typename Associator<Handler, Default>::type;

  static type get(const noesis::ship::detail::context_handler<Handler, T>& h,
                  const Default& fallback = Default()) noexcept {
    return Associator<Handler, Default>::get(h.handler(), fallback);
  }
};

}  // namespace asio
