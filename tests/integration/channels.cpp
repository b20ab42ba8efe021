// ChannelService against a private nats-server: history, own-message filtering, listing and
// name validation.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/channels.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// A memory stream and subject prefix of its own per test.
ChannelService make_service(Connection conn, const std::string& tag) {
  StreamConfig stream("CH_" + tag, {tag + ".channel.>"});
  stream.with_max_age(std::chrono::hours(1)).with_memory_storage();
  return ChannelService(std::move(conn), std::move(stream), tag + ".channel");
}

ConsumerOptions fast_options() {
  ConsumerOptions options;
  options.fetch_expires = 1s;
  options.nak_delays = {100ms};
  return options;
}

awaitable<bool> wait_until(std::function<bool()> done, std::chrono::milliseconds timeout = 10s) {
  const auto stop_at = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > stop_at) co_return false;
    co_await test::sleep_for(10ms);
  }
  co_return true;
}

}  // namespace

TEST_CASE("history returns the newest messages oldest first") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    ChannelService channels = make_service(conn, "history");
    co_await channels.connect("agent-1");
    for (int n = 1; n <= 25; ++n) {
      const std::string content = "message " + std::to_string(n);
      ChannelMessage sent = co_await channels.send_message("dev", content);
      CHECK(sent.sender == "agent-1");
      CHECK(sent.channel == "dev");
      CHECK(sent.message_id.rfind("dev-", 0) == 0);
      // Another channel interleaves, so sequences of `dev` are not contiguous.
      co_await channels.send_message("ops", content);
    }

    std::vector<ChannelMessage> last10 = co_await channels.get_channel_history("dev", 10);
    REQUIRE(last10.size() == 10);
    for (int i = 0; i < 10; ++i) {
      CHECK(last10[i].content == "message " + std::to_string(16 + i));
      CHECK(last10[i].sequence == static_cast<std::uint64_t>(2 * (15 + i) + 1));
    }

    std::vector<ChannelMessage> all = co_await channels.get_channel_history("dev", 100);
    REQUIRE(all.size() == 25);
    CHECK(all.front().content == "message 1");
    CHECK(all.back().content == "message 25");

    const auto started = std::chrono::steady_clock::now();
    std::vector<ChannelMessage> empty = co_await channels.get_channel_history("quiet", 10);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(empty.empty());
    CHECK(elapsed < 500ms);

    std::vector<ChannelSummary> listed = co_await channels.list_channels();
    CHECK(listed == std::vector<ChannelSummary>{{"dev", 25}, {"ops", 25}});
  });
}

TEST_CASE("agents skip their own messages") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    ChannelService alice = make_service(conn, "chat");
    ChannelService bob = make_service(conn, "chat");
    co_await alice.connect("alice");
    co_await bob.connect("bob");

    std::vector<std::string> alice_got;
    std::vector<std::string> bob_got;
    auto alice_sub = co_await alice.subscribe(
        "general", true, [&](ChannelMessage m) { alice_got.push_back(m.sender + ": " + m.content); }, fast_options());
    auto bob_sub = co_await bob.subscribe(
        "general", true,
        [&](ChannelMessage m) -> awaitable<void> {
          bob_got.push_back(m.sender + ": " + m.content);
          co_return;
        },
        fast_options());
    CHECK(alice_sub.consumer_name() == "alice_general");
    CHECK(bob_sub.consumer_name() == "bob_general");

    co_await alice.send_message("general", "hi bob");
    co_await bob.send_message("general", "hi alice");
    co_await alice.send_message("general", "how are you?");
    nlohmann::json metadata;
    metadata["mood"] = "good";
    co_await bob.send_message("general", "fine", metadata);

    const bool delivered = co_await wait_until([&] { return alice_got.size() >= 2 && bob_got.size() >= 2; });
    CHECK(delivered);
    co_await test::sleep_for(300ms);
    CHECK(alice_got == std::vector<std::string>{"bob: hi alice", "bob: fine"});
    CHECK(bob_got == std::vector<std::string>{"alice: hi bob", "alice: how are you?"});
    // Own messages are acked too, so each consumer has handled all four.
    CHECK(alice_sub.handled() == 4);
    CHECK(bob_sub.handled() == 4);

    std::vector<ChannelMessage> history = co_await alice.get_channel_history("general", 1);
    REQUIRE(history.size() == 1);
    REQUIRE(history[0].metadata);
    CHECK(history[0].metadata->at("mood") == "good");

    alice_sub.stop();
    bob_sub.stop();
    co_await alice_sub.wait();
    co_await bob_sub.wait();
  });
}

TEST_CASE("subscribe without history sees only new messages") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    ChannelService sender = make_service(conn, "fresh");
    ChannelService reader = make_service(conn, "fresh");
    co_await sender.connect("sender");
    co_await reader.connect("reader");
    co_await sender.send_message("news", "old");

    std::vector<std::string> got;
    auto sub = co_await reader.subscribe("news", false, [&](ChannelMessage m) { got.push_back(m.content); },
                                         fast_options());
    co_await sender.send_message("news", "new");
    const bool delivered = co_await wait_until([&] { return !got.empty(); });
    CHECK(delivered);
    co_await test::sleep_for(200ms);
    CHECK(got == std::vector<std::string>{"new"});
    sub.stop();
    co_await sub.wait();
  });
}

TEST_CASE("invalid agent and channel names are rejected") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    ChannelService channels = make_service(conn, "names");
    auto [before_connect, unsent] = co_await channels.send_message("dev", "x", std::nullopt,
                                                                   asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(before_connect == errc::not_connected);

    auto [bad_agent] = co_await channels.connect("agent.one", asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(bad_agent == errc::invalid_name);
    CHECK(channels.agent().empty());

    co_await channels.connect("agent-1");
    auto [bad_channel, message] = co_await channels.send_message("dev.ops", "x", std::nullopt,
                                                                 asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(bad_channel == errc::invalid_name);
    try {
      channels.subject_for("has space");
      FAIL("no exception");
    } catch (const error& e) {
      CHECK(std::string(e.what()).find("has space") != std::string::npos);
    }
    CHECK(channel_consumer_name("agent-1", "dev") == "agent-1_dev");
  });
}
