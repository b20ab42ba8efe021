// Pure decisions of the consumer loop: redelivery delay or term, retry pause, batch size,
// duplicate detection, and the consumer config built from options.
#include <catch2/catch.hpp>

#include <noesis/ship/channels.hpp>
#include <noesis/ship/detail/consumer_runner.hpp>
#include <noesis/ship/event_bus.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;
using namespace std::chrono_literals;

TEST_CASE("failed delivery naks with the delay of its attempt") {
  const std::vector<std::chrono::milliseconds> delays{1s, 5s};
  CHECK(action_after_failure(1, 5, delays).delay == 1s);
  CHECK(action_after_failure(2, 5, delays).delay == 5s);
  CHECK(action_after_failure(4, 5, delays).delay == 5s);
  CHECK_FALSE(action_after_failure(4, 5, delays).terminate);
  CHECK(action_after_failure(5, 5, delays).terminate);
  CHECK(action_after_failure(9, 5, delays).terminate);
  CHECK_FALSE(action_after_failure(100, -1, delays).terminate);
  CHECK(action_after_failure(1, 5, {}).delay == 0ms);
}

TEST_CASE("retry pause doubles up to the maximum") {
  CHECK(retry_pause(1, 100ms, 5s) == 100ms);
  CHECK(retry_pause(2, 100ms, 5s) == 200ms);
  CHECK(retry_pause(4, 100ms, 5s) == 800ms);
  CHECK(retry_pause(20, 100ms, 5s) == 5s);
  CHECK(retry_pause(1000, 100ms, 5s) == 5s);
}

TEST_CASE("batch shrinks while the handler is slow") {
  CHECK(adaptive_batch(256, 0ns, 30s) == 256);
  CHECK(adaptive_batch(256, 1ms, 30s) == 256);
  CHECK(adaptive_batch(256, 100ms, 30s) == 150);
  CHECK(adaptive_batch(256, 60s, 30s) == 1);
  CHECK(adaptive_batch(0, 0ns, 30s) == 1);
}

TEST_CASE("recent sequences forget the oldest") {
  recent_sequences recent(3);
  for (std::uint64_t s = 1; s <= 4; ++s) recent.insert(s);
  CHECK_FALSE(recent.contains(1));
  CHECK(recent.contains(2));
  CHECK(recent.contains(4));
  CHECK_FALSE(recent.contains(5));
}

TEST_CASE("consumer config takes the loop options") {
  ConsumerOptions options;
  options.ack_wait = 2s;
  options.max_deliver = 3;
  ConsumerConfig durable;
  durable.durable_name = "audit";
  const ConsumerConfig built = consumer_config_from(durable, options);
  CHECK(built.ack_policy == AckPolicy::explicit_ack);
  CHECK(built.ack_wait == 2s);
  CHECK(built.max_deliver == 3);
  CHECK(built.inactive_threshold == 0ns);
  const ConsumerConfig ephemeral = consumer_config_from(ConsumerConfig{}, options);
  CHECK(ephemeral.inactive_threshold == std::chrono::minutes(5));
}

TEST_CASE("default streams match the Rust library") {
  const StreamConfig events = default_event_stream_config();
  CHECK(events.name == "SHIP_EVENTS");
  CHECK(events.subjects == std::vector<std::string>{"ship.events.>"});
  CHECK(events.max_age == 86400s);
  CHECK(events.max_msgs == 100000);
  CHECK(events.storage == StorageType::file);

  const StreamConfig channels = default_channel_stream_config();
  CHECK(channels.name == "CHANNELS");
  CHECK(channels.subjects == std::vector<std::string>{"ship.channel.>"});
  CHECK(channels.max_age == 2592000s);
  CHECK(channels.max_msgs == 10000);
  CHECK(channels.storage == StorageType::file);
  CHECK(channel_consumer_name("mini", "general") == "mini_general");
  CHECK_THROWS_AS(channel_consumer_name("a.b", "general"), error);
}
