// The JetStream layer against a private nats-server: streams, acknowledged publishes, stored
// message reads, pull and ordered consumers.
#include <catch2/catch.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

PublishOptions with_msg_id(std::string id) {
  PublishOptions options;
  options.msg_id = std::move(id);
  return options;
}

PublishOptions expecting(std::uint64_t last_subject_sequence) {
  PublishOptions options;
  options.expected_last_subject_sequence = last_subject_sequence;
  return options;
}

PurgeOptions purge_subject(std::string subject) {
  PurgeOptions options;
  options.subject = std::move(subject);
  return options;
}

OrderedConsumerConfig ordered_config(std::string filter, std::chrono::milliseconds heartbeat) {
  OrderedConsumerConfig config;
  config.filter_subject = std::move(filter);
  config.heartbeat = heartbeat;
  return config;
}

StreamConfig memory_stream(std::string name, std::string subjects) {
  StreamConfig config(std::move(name), {std::move(subjects)});
  config.storage = StorageType::memory;
  return config;
}

}  // namespace

TEST_CASE("ensure_stream creates, keeps and updates a stream") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    StreamInfo created = co_await js.ensure_stream(memory_stream("ENSURE", "ensure.>"));
    CHECK(created.config.name == "ENSURE");
    CHECK(created.config.max_msgs == 100000);

    co_await js.publish("ensure.a", "1");
    StreamInfo same = co_await js.ensure_stream(memory_stream("ENSURE", "ensure.>"));
    CHECK(same.state.messages == 1);

    StreamInfo updated = co_await js.ensure_stream(memory_stream("ENSURE", "ensure.>").with_max_msgs(500));
    CHECK(updated.config.max_msgs == 500);
    CHECK(updated.state.messages == 1);  // the update kept the stored message

    // Changing the storage type is refused by the server and reported, never applied by deleting.
    StreamConfig file_config = memory_stream("ENSURE", "ensure.>");
    file_config.storage = StorageType::file;
    auto [ec, ignored] = co_await js.ensure_stream(file_config, asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec);
    StreamInfo after = co_await js.stream_info("ENSURE");
    CHECK(after.state.messages == 1);
  });
}

TEST_CASE("publish returns the sequence and reports duplicates") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(memory_stream("DUPES", "dupes.>"));
    PubAck first = co_await js.publish("dupes.x", "a", with_msg_id("id-1"));
    PubAck second = co_await js.publish("dupes.x", "a", with_msg_id("id-1"));
    CHECK(first.stream == "DUPES");
    CHECK(first.sequence == 1);
    CHECK_FALSE(first.duplicate);
    CHECK(second.duplicate);
    StreamInfo info = co_await js.stream_info("DUPES");
    CHECK(info.state.messages == 1);
  });
}

TEST_CASE("expected last subject sequence is enforced") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(memory_stream("CAS", "cas.>"));
    PubAck first = co_await js.publish("cas.k", "v1", expecting(0));
    PubAck second =
        co_await js.publish("cas.k", "v2", expecting(first.sequence));
    CHECK(second.sequence == first.sequence + 1);
    try {
      co_await js.publish("cas.k", "v3", expecting(first.sequence));
      FAIL("stale expected sequence was accepted");
    } catch (const error& e) {
      CHECK(is_jetstream_error(e.code(), 10071));
      CHECK(e.code() == condition::jetstream);
    }
  });
}

TEST_CASE("publish to a subject no stream stores fails clearly") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    PublishOptions once;
    once.attempts = 1;
    auto [ec, ack] = co_await js.publish("no.stream.here", "x", once,
                                         asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::stream_not_found);
    auto [info_ec, info] = co_await js.stream_info("NOPE", {}, asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(is_jetstream_error(info_ec, 10059));
  });
}

TEST_CASE("stored messages read back by sequence and by last subject") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    StreamConfig config = memory_stream("READS", "reads.>");
    config.allow_direct = true;
    co_await js.ensure_stream(config);
    co_await js.publish(OutgoingMessage("reads.a", "first").with_header("X-Kind", "one"));
    co_await js.publish("reads.a", "second");
    co_await js.publish("reads.b", "other");

    StoredMessage by_sequence = co_await js.get_message("READS", 1);
    CHECK(by_sequence.data == "first");
    CHECK(by_sequence.header("X-Kind") == std::optional<std::string>("one"));
    StoredMessage last = co_await js.get_last_message("READS", "reads.a");
    CHECK(last.data == "second");
    CHECK(last.sequence == 2);
    StoredMessage direct = co_await js.get_last_message("READS", "reads.a", true);
    CHECK(direct.data == "second");
    CHECK(direct.sequence == 2);
    CHECK(direct.subject == "reads.a");

    for (bool use_direct : {false, true}) {
      auto [ec, missing] = co_await js.get_last_message("READS", "reads.none", use_direct,
                                                        asio::experimental::as_tuple(asio::use_awaitable));
      CHECK(is_jetstream_error(ec, 10037));
    }

    std::uint64_t purged = co_await js.purge_stream("READS", purge_subject("reads.a"));
    CHECK(purged == 2);
    StreamInfo info = co_await js.stream_info("READS", "reads.>");
    CHECK(info.state.messages == 1);
    CHECK(info.state.subjects.at("reads.b") == 1);
  });
}

TEST_CASE("pull consumer fetches, acks and returns promptly when empty") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(memory_stream("PULL", "pull.>"));
    for (int i = 1; i <= 5; ++i) co_await js.publish("pull.item", std::to_string(i));

    ConsumerConfig config;
    config.durable_name = "worker";
    config.ack_wait = 2s;
    co_await js.create_consumer("PULL", config);
    PullConsumer consumer = js.pull_consumer("PULL", "worker");

    std::vector<JsMessage> batch = co_await consumer.fetch(3, 2s);
    REQUIRE(batch.size() == 3);
    CHECK(batch[0].data() == "1");
    CHECK(batch[0].stream_sequence() == 1);
    CHECK(batch[0].num_delivered() == 1);
    CHECK(batch[2].num_pending() == 2);
    for (auto& m : batch) m.ack();

    const auto started = std::chrono::steady_clock::now();
    std::vector<JsMessage> rest = co_await consumer.fetch(10, 5s);
    REQUIRE(rest.size() == 2);
    CHECK(std::chrono::steady_clock::now() - started < 1s);  // returned once nothing was pending
    for (auto& m : rest) m.ack();

    std::vector<JsMessage> none = co_await consumer.fetch(10, 300ms);
    CHECK(none.empty());

    // A message stored after an empty fetch arrives with the next one; acked ones never return.
    co_await js.publish("pull.item", "6");
    std::vector<JsMessage> late = co_await consumer.fetch(10, 2s);
    REQUIRE(late.size() == 1);
    CHECK(late[0].data() == "6");
    late[0].ack();
  });
}

TEST_CASE("nak makes the message come back") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(memory_stream("NAK", "nak.>"));
    co_await js.publish("nak.item", "again");
    ConsumerConfig config;
    config.durable_name = "nakker";
    co_await js.create_consumer("NAK", config);
    PullConsumer consumer = js.pull_consumer("NAK", "nakker");
    std::vector<JsMessage> first = co_await consumer.fetch(1, 2s);
    REQUIRE(first.size() == 1);
    first[0].nak();
    std::vector<JsMessage> second = co_await consumer.fetch(1, 2s);
    REQUIRE(second.size() == 1);
    CHECK(second[0].data() == "again");
    CHECK(second[0].num_delivered() == 2);
    second[0].ack();
  });
}

TEST_CASE("ordered consumer delivers in order and reports initial pending") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(memory_stream("ORDERED", "ordered.>"));
    for (int i = 1; i <= 100; ++i) co_await js.publish("ordered.x", std::to_string(i));

    OrderedConsumer consumer = co_await js.ordered_consumer("ORDERED");
    CHECK(consumer.initial_pending() == 100);
    for (int i = 1; i <= 100; ++i) {
      JsMessage msg = co_await consumer.next();
      REQUIRE(msg.data() == std::to_string(i));
      REQUIRE(msg.stream_sequence() == static_cast<std::uint64_t>(i));
    }
    JsMessage last_seen;
    co_await js.publish("ordered.x", "101");
    last_seen = co_await consumer.next();
    CHECK(last_seen.data() == "101");
    consumer.stop();

    OrderedConsumer empty = co_await js.ordered_consumer("ORDERED", ordered_config("ordered.none", 2000ms));
    CHECK(empty.initial_pending() == 0);
    empty.stop();
  });
}

TEST_CASE("ordered consumer resumes after a server restart") {
  testing::Server server;
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(server));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    StreamConfig file_stream = memory_stream("RESTART", "restart.>");
    file_stream.storage = StorageType::file;  // file storage survives the restart
    co_await js.ensure_stream(file_stream);
    co_await js.publish("restart.x", "before");
    OrderedConsumer consumer = co_await js.ordered_consumer("RESTART", ordered_config("", 500ms));
    JsMessage before = co_await consumer.next();
    CHECK(before.data() == "before");

    server.restart();
    // Publishes retry while JetStream comes back after the restart.
    PubAck ack;
    for (int attempt = 0; attempt < 50; ++attempt) {
      PublishOptions defaults;
      auto outcome = co_await js.publish("restart.x", "after", defaults, asio::experimental::as_tuple(asio::use_awaitable));
      if (!std::get<0>(outcome)) {
        ack = std::get<1>(outcome);
        break;
      }
      co_await test::sleep_for(200ms);
    }
    CHECK(ack.sequence == 2);
    JsMessage after = co_await consumer.next();
    CHECK(after.data() == "after");
    CHECK(after.stream_sequence() == 2);
    consumer.stop();
  }, std::chrono::seconds(60));
}
