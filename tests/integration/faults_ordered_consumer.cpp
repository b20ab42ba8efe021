// Faults an ordered consumer must recover from without a caller noticing: deliveries lost with
// a broken connection at the end of the data (so no later message shows the gap), before and
// after the first delivery. The client reaches the private nats-server through a FaultProxy,
// which makes the server's deliveries vanish and then breaks the connection.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/testing/server.hpp>

#include "fault_proxy.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;

namespace {

// A generous bound for steps that take about one heartbeat (1 s here) on an idle machine.
constexpr auto step_deadline = 20s;

constexpr const char* lost_tail_stream = "LOST_TAIL";

StreamConfig memory_stream(std::string name, std::string subjects) {
  StreamConfig config(std::move(name), {std::move(subjects)});
  config.storage = StorageType::memory;
  return config;
}

NatsConfig through(const test::FaultProxy& proxy) {
  NatsConfig config(proxy.url());
  config.reconnect.wait = 100ms;
  config.reconnect.jitter = 10ms;
  return config;
}

// Waits until the consumer of `stream` that filters on `filter` reports `count` delivered
// messages, as the server counts them. Returns false after step_deadline.
awaitable<bool> wait_until_delivered(JetStream& js, const std::string& stream, const std::string& filter,
                                     std::uint64_t count) {
  const auto stop_at = std::chrono::steady_clock::now() + step_deadline;
  const std::string list_suffix = "CONSUMER.LIST." + stream;
  while (std::chrono::steady_clock::now() < stop_at) {
    nlohmann::json listing = co_await js.api_request(list_suffix, nullptr);
    for (const auto& consumer : listing.value("consumers", nlohmann::json::array())) {
      if (consumer["config"].value("filter_subject", std::string()) != filter) continue;
      const std::uint64_t delivered = consumer["delivered"].value("consumer_seq", std::uint64_t{0});
      if (delivered == count) co_return true;
    }
    co_await test::sleep_for(50ms);
  }
  co_return false;
}

// Waits until the publish link, which carries the consumer's subscription, has reconnected.
awaitable<bool> wait_for_reconnect(const std::vector<ConnectionEvent>& events) {
  const auto stop_at = std::chrono::steady_clock::now() + step_deadline;
  while (std::chrono::steady_clock::now() < stop_at) {
    for (const auto& event : events) {
      if (event.type == ConnectionEventType::reconnected && event.link == "publish") co_return true;
    }
    co_await test::sleep_for(20ms);
  }
  co_return false;
}

// Returns the next message's payload, or "(timed out)" after step_deadline.
awaitable<std::string> next_payload(OrderedConsumer& consumer) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor, step_deadline);
  auto outcome = co_await (consumer.next(as_tuple(asio::use_awaitable)) || deadline.async_wait(as_tuple(asio::use_awaitable)));
  if (outcome.index() == 1) co_return "(timed out)";
  auto [ec, msg] = std::move(std::get<0>(outcome));
  if (ec) co_return "(error: " + ec.message() + ")";
  co_return std::string(msg.data());
}

// Creates an ordered consumer through the proxy, publishes `payloads` directly, lets the server
// deliver them into the proxy's drop, breaks the connection, waits for cnats to reconnect and
// returns what the consumer then reads.
awaitable<std::vector<std::string>> read_after_lost_tail(test::FaultProxy& proxy, Connection& direct,
                                                         Connection& proxied, const std::vector<ConnectionEvent>& events,
                                                         OrderedConsumerConfig config,
                                                         std::vector<std::string> payloads) {
  JetStream direct_js(direct);
  StreamConfig stream = memory_stream(lost_tail_stream, "lost_tail.>");
  co_await direct_js.ensure_stream(stream);
  JetStream proxied_js(proxied);
  OrderedConsumer consumer = co_await proxied_js.ordered_consumer(lost_tail_stream, config);

  proxy.drop_server_to_client();
  for (const auto& payload : payloads) co_await direct_js.publish(config.filter_subject, payload);
  const bool delivered =
      co_await wait_until_delivered(direct_js, lost_tail_stream, config.filter_subject, payloads.size());
  REQUIRE(delivered);
  proxy.cut();
  const bool reconnected = co_await wait_for_reconnect(events);
  REQUIRE(reconnected);

  std::vector<std::string> read;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::string payload = co_await next_payload(consumer);
    read.push_back(std::move(payload));
  }
  consumer.stop();
  co_return read;
}

OrderedConsumerConfig ordered_config(std::string filter, DeliverPolicy policy) {
  OrderedConsumerConfig config;
  config.filter_subject = std::move(filter);
  config.deliver_policy = policy;
  config.heartbeat = 1s;
  return config;
}

}  // namespace

// The server delivers, the bytes vanish, the connection breaks and cnats reconnects. From then
// on the server sends only idle heartbeats, which state that 3 messages were delivered: the
// consumer must notice the loss from them, since no later message shows a gap.
TEST_CASE("ordered consumer recovers deliveries lost at the end") {
  testing::Server& server = test::shared_server();
  test::FaultProxy proxy(server.port());
  asio::io_context io;
  Connection direct(io.get_executor(), test::config_for(server));
  Connection proxied(io.get_executor(), through(proxy));
  std::vector<ConnectionEvent> events;
  proxied.on_event([&events](const ConnectionEvent& event) { events.push_back(event); });
  const std::vector<std::string> payloads{"a1", "a2", "a3"};

  test::run(io, [&]() -> awaitable<void> {
    co_await direct.connect();
    co_await proxied.connect();
    OrderedConsumerConfig config = ordered_config("lost_tail.all", DeliverPolicy::all);
    std::vector<std::string> read = co_await read_after_lost_tail(proxy, direct, proxied, events, config, payloads);
    CHECK(read == payloads);
  }, 120s);
}

// A consumer for new messages that loses its first deliveries must not be recreated as another
// "new" consumer, which would start after them: it resumes where the first one started.
TEST_CASE("ordered consumer for new messages recovers a lost first delivery") {
  testing::Server& server = test::shared_server();
  test::FaultProxy proxy(server.port());
  asio::io_context io;
  Connection direct(io.get_executor(), test::config_for(server));
  Connection proxied(io.get_executor(), through(proxy));
  std::vector<ConnectionEvent> events;
  proxied.on_event([&events](const ConnectionEvent& event) { events.push_back(event); });
  const std::vector<std::string> payloads{"n1", "n2"};

  test::run(io, [&]() -> awaitable<void> {
    co_await direct.connect();
    co_await proxied.connect();
    JetStream js(direct);
    StreamConfig stream = memory_stream(lost_tail_stream, "lost_tail.>");
    co_await js.ensure_stream(stream);
    co_await js.publish("lost_tail.new", "old");  // stored before the consumer: never delivered

    OrderedConsumerConfig config = ordered_config("lost_tail.new", DeliverPolicy::new_messages);
    std::vector<std::string> read = co_await read_after_lost_tail(proxy, direct, proxied, events, config, payloads);
    CHECK(read == payloads);
  }, 120s);
}
