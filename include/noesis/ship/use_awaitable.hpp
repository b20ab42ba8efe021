// The default completion token of every asynchronous operation in noesis::ship.
//
// `co_await op(...)` with no token behaves like asio::use_awaitable, except that a failure is
// thrown as noesis::ship::error, whose message names the subject, key, bucket or stream involved.
// Any other asio completion token gets the plain signature void(std::error_code, T):
//   auto [ec, msg] = co_await conn.request("svc.echo", "hi", 1s, asio::experimental::as_tuple(asio::use_awaitable));
//   conn.request("svc.echo", "hi", 1s, [](std::error_code ec, noesis::ship::Message msg) { ... });
#pragma once

namespace noesis::ship {

struct use_awaitable_t {
  constexpr use_awaitable_t() = default;
};

inline constexpr use_awaitable_t use_awaitable{};

}  // namespace noesis::ship
