// The request path of a service: routing, running the handler, the reply, statistics,
// mutation events and the micro control responses.
#include <noesis/ship/detail/service_core.hpp>

#include <exception>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/detail/service_routing.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/ship_event.hpp>

namespace noesis::ship::detail {
namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// A header value cannot span lines in the NATS protocol, so line breaks become spaces.
std::string to_header_value(std::string_view text) {
  std::string value(text);
  for (char& c : value) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return value;
}

}  // namespace

asio::awaitable<void> service_core::serve_requests(std::shared_ptr<service_core> self, Connection conn) {
  for (;;) {
    auto [ec, msg] = co_await self->requests_.next(as_tuple_awaitable);
    // The subscription has logged the dropped requests; the queued ones are still served.
    if (ec == errc::slow_consumer) continue;
    if (ec) co_return;

    // Handlers run one at a time, so no two of them touch the state at once.
    co_await self->handle_request(conn, std::move(msg));

    while (self->in_flight_ >= self->config_.max_in_flight) {
      self->slot_timer_->expires_at(asio::steady_timer::time_point::max());
      co_await self->slot_timer_->async_wait(as_tuple_awaitable);
    }
  }
}

asio::awaitable<void> service_core::handle_request(Connection& conn, Message msg) {
  ++in_flight_;
  const std::string subject(msg.subject());
  const std::string command = command_from_subject(subject_prefix_, subject);

  const handler_fn* handler = nullptr;
  std::optional<std::size_t> index;
  if (auto it = handlers_.find(command); it != handlers_.end()) {
    handler = &it->second;
    index = endpoint_of_command_.at(command);
  } else if (default_handler_) {
    handler = &default_handler_;
    index = default_endpoint_;
  }

  outcome result;
  if (handler == nullptr) {
    // No endpoint owns an unknown command, so it shows in no endpoint's statistics.
    result = outcome{unknown_command_response(command), "UNKNOWN_COMMAND: " + command, 404};
  } else {
    const auto begin = std::chrono::steady_clock::now();
    result = co_await invoke(*handler, subject, msg.data(), command);
    endpoints_[*index].stats.record(std::chrono::steady_clock::now() - begin, result.error);
  }

  send_reply(conn, msg, result);
  publish_event(conn, command, result.body);
  finish_one();
}

asio::awaitable<service_core::outcome> service_core::invoke(const handler_fn& handler, std::string_view subject,
                                                            std::string_view payload, std::string_view command) {
  outcome result;
  try {
    result.body = co_await handler(subject, payload);
  } catch (const ServiceError& e) {
    result = outcome{error_response(e.what(), e.code()), e.what(), e.code()};
    logger()->warn("service '{}' ({}): command '{}' on '{}' failed with code {}: {}", service_name(), id_, command,
                   subject, e.code(), e.what());
  } catch (const std::exception& e) {
    result = outcome{error_response(e.what(), 500), e.what(), 500};
    logger()->error("service '{}' ({}): command '{}' on '{}' threw: {}", service_name(), id_, command, subject,
                    e.what());
  } catch (...) {
    const std::string message = "the handler threw a non-standard exception";
    result = outcome{error_response(message, 500), message, 500};
    logger()->error("service '{}' ({}): command '{}' on '{}': {}", service_name(), id_, command, subject, message);
  }
  co_return result;
}

void service_core::send_reply(Connection& conn, const Message& msg, const outcome& result) const {
  if (msg.reply().empty()) return;

  Headers headers;
  if (result.error) {
    headers.emplace_back(std::string(micro_error_header), to_header_value(*result.error));
    headers.emplace_back(std::string(micro_error_code_header), std::to_string(result.code));
  }
  try {
    conn.respond(msg, result.body, headers);
  } catch (const std::exception& e) {
    logger()->warn("service '{}' ({}): reply to a request on '{}' failed: {}", service_name(), id_, msg.subject(),
                   e.what());
  }
}

void service_core::publish_event(Connection& conn, std::string_view command, std::string_view response) {
  if (!mutation_callback_) return;

  std::optional<MutationEvent> event;
  try {
    event = mutation_callback_(command, response);
  } catch (const std::exception& e) {
    logger()->error("service '{}' ({}): mutation callback for command '{}' failed: {}", service_name(), id_, command,
                    e.what());
    return;
  }
  if (!event) return;

  std::string subject = event_subject(config_.event_prefix, event->event_type);
  if (!config_.event_stream) {
    try {
      conn.publish(subject, event->data);
    } catch (const std::exception& e) {
      logger()->error("service '{}' ({}): event '{}' was not published: {}", service_name(), id_, subject, e.what());
    }
    return;
  }

  // The acknowledgement takes a round trip, so it is awaited beside the next requests. The
  // request counts as in flight until then, which bounds the acks outstanding.
  // NOTE: events are sent in the order their requests finished, but two publishes in flight
  // have no ordering guarantee beyond that of the connection's publish link.
  ++in_flight_;
  asio::co_spawn(executor_,
                 publish_ship_event(shared_from_this(), conn, std::move(subject), std::move(event->event_type),
                                    std::move(event->data)),
                 [](std::exception_ptr) {});
}

asio::awaitable<void> service_core::publish_ship_event(std::shared_ptr<service_core> self, Connection conn,
                                                       std::string subject, std::string event_type,
                                                       std::string data) {
  nlohmann::json payload = nlohmann::json::parse(data, nullptr, false);
  if (payload.is_discarded()) {
    // The Rust noesis-ship writes null here, losing the data; a JSON string keeps it.
    logger()->warn("service '{}' ({}): event '{}' is not JSON, sending its bytes as a JSON string",
                   self->service_name(), self->id_, subject);
    payload = data;
  }
  const auto envelope = make_ship_event(std::move(event_type), self->config_.event_source, std::move(payload));
  std::string body = nlohmann::json(envelope).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  try {
    JetStream js(conn);
    PubAck ack = co_await js.publish(subject, std::move(body));
    logger()->debug("service '{}' ({}): event '{}' stored in stream '{}' at sequence {}", self->service_name(),
                    self->id_, subject, ack.stream, ack.sequence);
  } catch (const std::exception& e) {
    logger()->error("service '{}' ({}): event '{}' was not stored: {}", self->service_name(), self->id_, subject,
                    e.what());
  }
  self->finish_one();
}

asio::awaitable<void> service_core::serve_control(std::shared_ptr<service_core> self, Connection conn,
                                                  std::size_t index) {
  const MicroVerb verb = self->control_verbs_[index];
  for (;;) {
    auto [ec, msg] = co_await self->control_[index].next(as_tuple_awaitable);
    if (ec == errc::slow_consumer) continue;
    if (ec) co_return;
    if (msg.reply().empty()) continue;

    try {
      conn.respond(msg, self->control_response(verb));
    } catch (const std::exception& e) {
      logger()->warn("service '{}' ({}): {} reply on '{}' failed: {}", self->service_name(), self->id_,
                     to_string(verb), msg.subject(), e.what());
    }
  }
}

MicroIdentity service_core::identity() const {
  return MicroIdentity{service_name(), id_, config_.version, config_.metadata};
}

std::string service_core::control_response(MicroVerb verb) const {
  switch (verb) {
    case MicroVerb::ping:
      return micro_ping_response(identity());
    case MicroVerb::info: {
      std::vector<MicroEndpointInfo> infos;
      for (const auto& e : endpoints_) infos.push_back(e.info);
      return micro_info_response(identity(), config_.description, infos);
    }
    case MicroVerb::stats: {
      std::vector<MicroEndpointStats> stats;
      for (const auto& e : endpoints_) stats.push_back(MicroEndpointStats{e.info, e.stats, std::nullopt});
      return micro_stats_response(identity(), started_, stats);
    }
  }
  return {};
}

asio::awaitable<std::string> service_core::dispatch(std::shared_ptr<service_core> self, std::string command,
                                                    std::string payload) {
  auto it = self->handlers_.find(command);
  if (it == self->handlers_.end()) co_return unknown_command_response(command);

  const std::string subject = self->subject_prefix_ + "." + command;
  outcome result = co_await self->invoke(it->second, subject, payload, command);
  co_return result.body;
}

}  // namespace noesis::ship::detail
