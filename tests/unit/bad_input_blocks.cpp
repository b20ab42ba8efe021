// Invalid input to the public entry points of the building blocks: each case must fail with its
// own error code and a message quoting the value, before anything is sent. The connection is
// never connected, so a check that ran only after sending would fail with errc::not_connected
// instead.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/artifact_store.hpp>
#include <noesis/ship/being_registry.hpp>
#include <noesis/ship/being_snapshots.hpp>
#include <noesis/ship/channels.hpp>
#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/health_metrics.hpp>
#include <noesis/ship/job_queue.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/object_store.hpp>
#include <noesis/ship/service.hpp>
#include <noesis/ship/ship_config.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using nlohmann::json;

namespace {

struct Case {
  std::string what;                       // shown when the case fails
  std::function<awaitable<void>()> call;  // the operation under test
  std::error_code expected;
  std::string quoted;  // a part of the message that names the bad value
};

// Runs `call` on `io`, the io_context of the connection under test. Returns the code and message
// of the std::system_error it throws, or an empty code when it completes.
std::pair<std::error_code, std::string> failure_of(asio::io_context& io, const std::function<awaitable<void>()>& call) {
  std::error_code code;
  std::string message;
  test::run(io, [&]() -> awaitable<void> {
    try {
      co_await call();
    } catch (const std::system_error& e) {
      code = e.code();
      message = e.what();
    }
  }, std::chrono::seconds(10));
  return {code, message};
}

// Wraps a synchronous call as an awaitable so the same table runner covers both kinds.
std::function<awaitable<void>()> sync(std::function<void()> call) {
  return [call]() -> awaitable<void> {
    call();
    co_return;
  };
}

void check_cases(asio::io_context& io, const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    INFO(c.what);
    const auto [code, message] = failure_of(io, c.call);
    INFO("message: " << message);
    CHECK(code == c.expected);
    if (c.expected.category() == ship_category()) CHECK(code == condition::invalid_input);
    CHECK(message.find(c.quoted) != std::string::npos);
  }
}

// A connection to a port nothing listens on, never connected.
Connection offline_connection(asio::io_context& io) {
  NatsConfig config("nats://127.0.0.1:1");
  config.connect_timeout = 200ms;
  config.reconnect.enabled = false;
  return Connection(io.get_executor(), config);
}

// A valid stream with one bad value, for the blocks that take a StreamConfig.
StreamConfig stream_with_replicas(int replicas) {
  StreamConfig stream("S", {"s.>"});
  stream.replicas = replicas;
  return stream;
}

// A consumer option set with one bad value, and the fragment the error must quote.
struct BadOptions {
  ConsumerOptions options;
  std::string quoted;
};

std::vector<BadOptions> bad_consumer_options() {
  std::vector<BadOptions> bad;
  auto add = [&bad](std::function<void(ConsumerOptions&)> change, std::string quoted) {
    ConsumerOptions options;
    change(options);
    bad.push_back({options, std::move(quoted)});
  };
  add([](ConsumerOptions& o) { o.ack_wait = 0ms; }, "ack_wait 0 ms");
  add([](ConsumerOptions& o) { o.ack_wait = -5ms; }, "ack_wait -5 ms");
  add([](ConsumerOptions& o) { o.max_deliver = 0; }, "max_deliver 0");
  add([](ConsumerOptions& o) { o.max_deliver = -2; }, "max_deliver -2");
  add([](ConsumerOptions& o) { o.max_ack_pending = -2; }, "max_ack_pending -2");
  add([](ConsumerOptions& o) { o.inactive_threshold = -1ms; }, "inactive_threshold -1 ms");
  add([](ConsumerOptions& o) { o.batch_size = 0; }, "batch_size 0");
  add([](ConsumerOptions& o) { o.fetch_expires = 0ms; }, "fetch_expires 0 ms");
  add([](ConsumerOptions& o) { o.nak_delays = {1s, -3ms}; }, "nak delay -3 ms");
  add([](ConsumerOptions& o) { o.retry_initial = 0ms; }, "retry_initial 0 ms");
  add([](ConsumerOptions& o) { o.retry_max = 50ms; }, "retry_max 50 ms");
  return bad;
}

std::vector<Case> event_bus_cases(Connection conn) {
  std::vector<Case> cases;
  for (const std::string prefix : {"", "a b", "a.*", "a.>", "a..b"}) {
    cases.push_back({"event bus prefix '" + prefix + "'",
                     sync([conn, prefix] { EventBus(conn, default_event_stream_config(), prefix); }),
                     errc::invalid_subject, "'" + prefix + "'"});
  }
  cases.push_back({"event bus stream with 0 replicas",
                   sync([conn] { EventBus(conn, stream_with_replicas(0), "s"); }), errc::invalid_argument,
                   "replicas 0"});

  EventBus bus(conn);
  for (const std::string type : {"", "a b", "a.*", "a.>", "a..b", ".a"}) {
    cases.push_back({"emit_event of type '" + type + "'",
                     [bus, type]() mutable -> awaitable<void> {
                       const json payload = json::object();
                       co_await bus.emit_event(type, payload);
                     },
                     errc::invalid_subject, "'" + type + "'"});
  }
  auto event = make_ship_event("a b", "src", json::object(), std::nullopt);
  cases.push_back({"publish_event of type 'a b'",
                   [bus, event]() mutable -> awaitable<void> {
                     std::string msg_id;
                     co_await bus.publish_event(event, msg_id);
                   },
                   errc::invalid_subject, "'a b'"});

  const auto ignore = [](ShipEvent<json>) {};
  for (const std::string pattern : {"", "a..b", "a b", ">.a"}) {
    cases.push_back({"subscribe to pattern '" + pattern + "'",
                     [bus, pattern, ignore]() mutable -> awaitable<void> {
                       std::optional<ConsumerOptions> options;
                       co_await bus.subscribe<json>(pattern, "audit", ignore, options);
                     },
                     errc::invalid_subject, "'" + pattern + "'"});
  }
  for (const std::string consumer : {"c.d", "c d", "c*", "c>", "c/d"}) {
    cases.push_back({"subscribe as consumer '" + consumer + "'",
                     [bus, consumer, ignore]() mutable -> awaitable<void> {
                       std::optional<ConsumerOptions> options;
                       co_await bus.subscribe<json>(">", consumer, ignore, options);
                     },
                     errc::invalid_name, "'" + consumer + "'"});
  }

  for (const auto& bad : bad_consumer_options()) {
    cases.push_back({"event subscriber with " + bad.quoted,
                     [bus, bad, ignore]() mutable -> awaitable<void> {
                       std::optional<ConsumerOptions> options = bad.options;
                       co_await bus.subscribe<json>(">", "audit", ignore, options);
                     },
                     errc::invalid_argument, bad.quoted});
  }
  return cases;
}

std::vector<Case> channel_cases(Connection conn) {
  std::vector<Case> cases;
  cases.push_back({"channel prefix 'a b'",
                   sync([conn] { ChannelService(conn, default_channel_stream_config(), "a b"); }),
                   errc::invalid_subject, "'a b'"});
  cases.push_back({"channel stream with 6 replicas", sync([conn] { ChannelService(conn, stream_with_replicas(6)); }),
                   errc::invalid_argument, "replicas 6"});
  for (const std::string& agent : std::vector<std::string>{"", "a b", "a.b", std::string(128, 'a')}) {
    cases.push_back({"connect as agent '" + agent.substr(0, 20) + "'",
                     [conn, agent]() mutable -> awaitable<void> {
                       ChannelService channels(conn);
                       co_await channels.connect(agent);
                     },
                     errc::invalid_name, "'" + agent.substr(0, 20)});
  }
  cases.push_back({"consumer name of agent 'a b'", sync([] { channel_consumer_name("a b", "dev"); }),
                   errc::invalid_name, "'a b'"});

  // Without connect(agent): the channel is checked before the missing agent name.
  ChannelService channels(conn);
  const auto ignore = [](ChannelMessage) {};
  for (const std::string channel : {"", "c.d", "c d", "c*"}) {
    cases.push_back({"send_message on channel '" + channel + "'",
                     [channels, channel]() mutable -> awaitable<void> {
                       std::optional<json> metadata;
                       co_await channels.send_message(channel, "hello", metadata);
                     },
                     errc::invalid_name, "'" + channel + "'"});
    cases.push_back({"subscribe to channel '" + channel + "'",
                     [channels, channel, ignore]() mutable -> awaitable<void> {
                       std::optional<ConsumerOptions> options;
                       co_await channels.subscribe(channel, true, ignore, options);
                     },
                     errc::invalid_name, "'" + channel + "'"});
    cases.push_back({"history of channel '" + channel + "'",
                     [channels, channel]() mutable -> awaitable<void> {
                       co_await channels.get_channel_history(channel, 10);
                     },
                     errc::invalid_name, "'" + channel + "'"});
  }
  cases.push_back({"history limit 0",
                   [channels]() mutable -> awaitable<void> { co_await channels.get_channel_history("dev", 0); },
                   errc::invalid_argument, "limit 0"});

  // With an agent name (connect() fails without a server, but keeps the name), so the consumer
  // options are what is wrong.
  for (const auto& bad : bad_consumer_options()) {
    cases.push_back({"channel subscriber with " + bad.quoted,
                     [conn, bad, ignore]() mutable -> awaitable<void> {
                       ChannelService named(conn);
                       auto [ec] = co_await named.connect("agent-1", asio::experimental::as_tuple(asio::use_awaitable));
                       CHECK(ec);
                       std::optional<ConsumerOptions> options = bad.options;
                       co_await named.subscribe("dev", true, ignore, options);
                     },
                     errc::invalid_argument, bad.quoted});
  }
  return cases;
}

KvBucketConfig bucket(std::function<void(KvBucketConfig&)> change) {
  KvBucketConfig config("B");
  change(config);
  return config;
}

std::vector<Case> kv_cases(Connection conn) {
  std::vector<Case> cases;
  const std::vector<std::pair<KvBucketConfig, std::string>> bad_configs{
      {KvBucketConfig("a.b"), "'a.b'"},
      {KvBucketConfig(""), "''"},
      {KvBucketConfig("a b"), "'a b'"},
      {bucket([](KvBucketConfig& c) { c.history = 0; }), "history 0"},
      {bucket([](KvBucketConfig& c) { c.history = 65; }), "history 65"},
      {bucket([](KvBucketConfig& c) { c.ttl = -1s; }), "TTL of -1 s"},
      {bucket([](KvBucketConfig& c) { c.ttl = 0s; }), "TTL of 0 s"},
      {bucket([](KvBucketConfig& c) { c.ttl = std::chrono::seconds(std::numeric_limits<std::int64_t>::max()); }),
       "TTL of 9223372036854775807 s"},
      {bucket([](KvBucketConfig& c) { c.max_value_size = -2; }), "max_value_size -2"},
      {bucket([](KvBucketConfig& c) { c.max_bytes = -2; }), "max_bytes -2"},
      {bucket([](KvBucketConfig& c) { c.replicas = 0; }), "replicas 0"},
      {bucket([](KvBucketConfig& c) { c.replicas = 6; }), "replicas 6"}};
  for (const auto& [config, quoted] : bad_configs) {
    const errc expected = quoted.front() == '\'' ? errc::invalid_name : errc::invalid_argument;
    cases.push_back({"KV bucket config " + quoted, sync([conn, config = config] { KvStore(conn, config); }), expected,
                     quoted});
  }

  KvStore kv(conn, KvBucketConfig("B"));
  for (const std::string key : {"", "a b", ".a", "a.", "a..b", "a*", "a.>", "_kv.x", "a\tb"}) {
    const std::string quoted = key == "a\tb" ? "'a\\x09b'" : "'" + key + "'";
    cases.push_back({"KV put of key '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> {
                       const std::string value = "v";
                       co_await kv.put(key, value);
                     },
                     errc::invalid_key, quoted});
  }
  for (const std::string key : {"a b", "a..b"}) {
    cases.push_back({"KV create of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> {
                       const std::string value = "v";
                       co_await kv.create(key, value);
                     },
                     errc::invalid_key, "'" + key + "'"});
    cases.push_back({"KV update of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> {
                       const std::string value = "v";
                       co_await kv.update(key, value, 1);
                     },
                     errc::invalid_key, "'" + key + "'"});
    cases.push_back({"KV erase of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.erase(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV purge of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.purge(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV get of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.get(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV get_revision of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.get_revision(key, 1); },
                     errc::invalid_key, "'" + key + "'"});
    cases.push_back({"KV history of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.history(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV keys matching '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.keys(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV entries matching '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.entries(key); }, errc::invalid_key,
                     "'" + key + "'"});
    cases.push_back({"KV watch of '" + key + "'",
                     [kv, key]() mutable -> awaitable<void> { co_await kv.watch(key); }, errc::invalid_key,
                     "'" + key + "'"});
  }
  cases.push_back({"KV watch of 'a.>.b'",
                   [kv]() mutable -> awaitable<void> { co_await kv.watch("a.>.b"); }, errc::invalid_key, "'a.>.b'"});
  cases.push_back({"KV get_revision 0",
                   [kv]() mutable -> awaitable<void> { co_await kv.get_revision("k", 0); }, errc::invalid_argument,
                   "revision 0"});

  KvStore small(conn, bucket([](KvBucketConfig& c) { c.max_value_size = 8; }));
  cases.push_back({"KV put of 9 bytes into max_value_size 8",
                   [small]() mutable -> awaitable<void> {
                     const std::string value(9, 'x');
                     co_await small.put("k", value);
                   },
                   errc::payload_too_large, "9 bytes"});
  cases.push_back({"KV create of 9 bytes into max_value_size 8",
                   [small]() mutable -> awaitable<void> {
                     const std::string value(9, 'x');
                     co_await small.create("k", value);
                   },
                   errc::payload_too_large, "max_value_size of 8 bytes"});
  return cases;
}

ObjectStoreConfig object_bucket(std::function<void(ObjectStoreConfig&)> change) {
  ObjectStoreConfig config;
  config.bucket = "B";
  change(config);
  return config;
}

std::vector<Case> object_store_cases(Connection conn) {
  std::vector<Case> cases;
  const std::vector<std::pair<ObjectStoreConfig, std::string>> bad_configs{
      {object_bucket([](ObjectStoreConfig& c) { c.bucket = "a.b"; }), "'a.b'"},
      {object_bucket([](ObjectStoreConfig& c) { c.bucket = ""; }), "''"},
      {object_bucket([](ObjectStoreConfig& c) { c.chunk_size = 0; }), "chunk_size 0"},
      {object_bucket([](ObjectStoreConfig& c) { c.max_chunks_in_flight = 0; }), "max_chunks_in_flight 0"},
      {object_bucket([](ObjectStoreConfig& c) { c.ttl = -1s; }), "ttl -1 s"},
      {object_bucket([](ObjectStoreConfig& c) { c.max_bytes = -2; }), "max_bytes -2"},
      {object_bucket([](ObjectStoreConfig& c) { c.replicas = 0; }), "replicas 0"},
      {object_bucket([](ObjectStoreConfig& c) { c.replicas = 6; }), "replicas 6"}};
  for (const auto& [config, quoted] : bad_configs) {
    const errc expected = quoted.front() == '\'' ? errc::invalid_name : errc::invalid_argument;
    cases.push_back({"object store config " + quoted, sync([conn, config = config] { ObjectStore(conn, config); }),
                     expected, quoted});
  }

  ObjectStore store(conn, object_bucket([](ObjectStoreConfig&) {}));
  for (const std::string& name : {std::string(), std::string("a\xff")}) {
    const std::string quoted = name.empty() ? "''" : "'a\\xFF'";
    cases.push_back({"object put of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.put(name, "x", ""); },
                     errc::invalid_name, quoted});
    cases.push_back({"object put_file of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.put_file(name, "/dev/null", ""); },
                     errc::invalid_name, quoted});
    cases.push_back({"object get of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.get(name); }, errc::invalid_name,
                     quoted});
    cases.push_back({"object get_to_file of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.get_to_file(name, "/tmp/x"); },
                     errc::invalid_name, quoted});
    cases.push_back({"object info of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.info(name); }, errc::invalid_name,
                     quoted});
    cases.push_back({"object delete of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> { co_await store.delete_object(name); },
                     errc::invalid_name, quoted});
    cases.push_back({"object update_meta of name of " + std::to_string(name.size()) + " bytes",
                     [store, name]() mutable -> awaitable<void> {
                       ObjectMetaUpdate update;
                       co_await store.update_meta(name, update);
                     },
                     errc::invalid_name, quoted});
  }
  cases.push_back({"object rename to invalid UTF-8",
                   [store]() mutable -> awaitable<void> {
                     ObjectMetaUpdate update;
                     update.name = "b\xff";
                     co_await store.update_meta("a", update);
                   },
                   errc::invalid_name, "\\xFF"});
  cases.push_back({"object put_file of a missing file",
                   [store]() mutable -> awaitable<void> {
                     co_await store.put_file("x", "/nonexistent-dir/missing.bin", "");
                   },
                   std::make_error_code(std::errc::no_such_file_or_directory), "'/nonexistent-dir/missing.bin'"});
  return cases;
}

std::vector<Case> registry_cases(Connection conn) {
  std::vector<Case> cases;
  BeingRegistry registry(conn);
  for (const std::string id : {"", "a b", "a..b", "_kv.x"}) {
    cases.push_back({"register being '" + id + "'",
                     [registry, id]() mutable -> awaitable<void> { co_await registry.register_being(id); },
                     errc::invalid_key, "'" + id + "'"});
  }
  for (const std::string id : {"a b", ".a"}) {
    cases.push_back({"update_status of '" + id + "'",
                     [registry, id]() mutable -> awaitable<void> {
                       co_await registry.update_status(id, BeingState::working);
                     },
                     errc::invalid_key, "'" + id + "'"});
    cases.push_back({"heartbeat of '" + id + "'",
                     [registry, id]() mutable -> awaitable<void> { co_await registry.heartbeat(id); },
                     errc::invalid_key, "'" + id + "'"});
    cases.push_back({"unregister '" + id + "'",
                     [registry, id]() mutable -> awaitable<void> { co_await registry.unregister(id); },
                     errc::invalid_key, "'" + id + "'"});
    cases.push_back({"get_status of '" + id + "'",
                     [registry, id]() mutable -> awaitable<void> { co_await registry.get_status(id); },
                     errc::invalid_key, "'" + id + "'"});
  }
  cases.push_back({"get_online with max_heartbeat_age -1 s",
                   [registry]() mutable -> awaitable<void> {
                     OnlineFilter filter;
                     filter.max_heartbeat_age = -1s;
                     co_await registry.get_online(filter);
                   },
                   errc::invalid_argument, "max_heartbeat_age -1 s"});

  ShipConfig config(conn);
  cases.push_back({"config set of 'a b'",
                   [config]() mutable -> awaitable<void> { co_await config.set("a b", 1); }, errc::invalid_key,
                   "'a b'"});
  cases.push_back({"config get of 'a.'",
                   [config]() mutable -> awaitable<void> { co_await config.get("a.", 0); }, errc::invalid_key,
                   "'a.'"});
  cases.push_back({"config remove of ''",
                   [config]() mutable -> awaitable<void> { co_await config.remove(""); }, errc::invalid_key, "''"});
  cases.push_back({"config watch of 'a b'",
                   [config]() mutable -> awaitable<void> { co_await config.watch("a b"); }, errc::invalid_key,
                   "'a b'"});

  HealthMetrics health(conn);
  cases.push_back({"health report of 'a b'",
                   [health]() mutable -> awaitable<void> {
                     const json report = json::object();
                     co_await health.report("a b", report);
                   },
                   errc::invalid_key, "'a b'"});
  cases.push_back({"health get of 'a..b'",
                   [health]() mutable -> awaitable<void> { co_await health.get("a..b"); }, errc::invalid_key,
                   "'a..b'"});
  return cases;
}

std::vector<Case> snapshot_artifact_cases(Connection conn) {
  std::vector<Case> cases;
  SnapshotsConfig bad_snapshots;
  bad_snapshots.bucket = "a.b";
  cases.push_back({"snapshots bucket 'a.b'", sync([conn, bad_snapshots] { BeingSnapshots(conn, bad_snapshots); }),
                   errc::invalid_name, "'a.b'"});
  BeingSnapshots snapshots(conn);
  for (const std::string being : {"", "a b", "a.b"}) {
    cases.push_back({"take snapshot of '" + being + "'",
                     [snapshots, being]() mutable -> awaitable<void> {
                       json state = json::object();
                       co_await snapshots.take(being, std::move(state), "reason");
                     },
                     errc::invalid_name, "'" + being + "'"});
    cases.push_back({"list snapshots of '" + being + "'",
                     [snapshots, being]() mutable -> awaitable<void> { co_await snapshots.list(being); },
                     errc::invalid_name, "'" + being + "'"});
    cases.push_back({"latest snapshot of '" + being + "'",
                     [snapshots, being]() mutable -> awaitable<void> { co_await snapshots.latest(being); },
                     errc::invalid_name, "'" + being + "'"});
  }
  cases.push_back({"restore snapshot ''",
                   [snapshots]() mutable -> awaitable<void> { co_await snapshots.restore(""); }, errc::invalid_name,
                   "''"});
  cases.push_back({"delete snapshot ''",
                   [snapshots]() mutable -> awaitable<void> { co_await snapshots.delete_snapshot(""); },
                   errc::invalid_name, "''"});

  ArtifactsConfig bad_artifacts;
  bad_artifacts.bucket = "a b";
  cases.push_back({"artifacts bucket 'a b'", sync([conn, bad_artifacts] { ArtifactStore(conn, bad_artifacts); }),
                   errc::invalid_name, "'a b'"});
  ArtifactStore artifacts(conn);
  cases.push_back({"store artifact ''",
                   [artifacts]() mutable -> awaitable<void> {
                     std::optional<std::string> task;
                     co_await artifacts.store_artifact("", "bytes", "log", task);
                   },
                   errc::invalid_name, "''"});
  cases.push_back({"store artifact of type ''",
                   [artifacts]() mutable -> awaitable<void> {
                     std::optional<std::string> task;
                     co_await artifacts.store_artifact("a", "bytes", "", task);
                   },
                   errc::invalid_argument, "type ''"});
  cases.push_back({"store artifact of type with the task separator",
                   [artifacts]() mutable -> awaitable<void> {
                     std::optional<std::string> task;
                     co_await artifacts.store_artifact("a", "bytes", "log, expedition=x", task);
                   },
                   errc::invalid_argument, "type 'log, expedition=x'"});
  cases.push_back({"get artifact 'a\\xff'",
                   [artifacts]() mutable -> awaitable<void> { co_await artifacts.get("a\xff"); },
                   errc::invalid_name, "\\xFF"});
  cases.push_back({"delete artifact ''",
                   [artifacts]() mutable -> awaitable<void> { co_await artifacts.delete_artifact(""); },
                   errc::invalid_name, "''"});
  return cases;
}

DurableJobQueueConfig job_config(std::function<void(DurableJobQueueConfig&)> change) {
  DurableJobQueueConfig config;
  change(config);
  return config;
}

std::vector<Case> job_queue_cases(Connection conn) {
  std::vector<Case> cases;
  for (const std::string prefix : {"", "a b", "a.b", "A*"}) {
    cases.push_back({"job queue prefix '" + prefix + "'", sync([prefix] { JobQueue<json> queue(prefix); }),
                     errc::invalid_name, "'" + prefix + "'"});
  }
  for (const std::string worker : {"", "w\n", "a\xff"}) {
    const std::string quoted = worker == "w\n" ? "'w\\x0A'" : worker.empty() ? "''" : "'a\\xFF'";
    cases.push_back({"in-memory submit for worker " + quoted, sync([worker] {
                       JobQueue<json> queue("JOB");
                       queue.submit(json{{"x", 1}}, worker, "me");
                     }),
                     errc::invalid_name, quoted});
  }

  const std::vector<std::pair<DurableJobQueueConfig, std::string>> bad_configs{
      {job_config([](DurableJobQueueConfig& c) { c.prefix = "a b"; }), "'a b'"},
      {job_config([](DurableJobQueueConfig& c) { c.bucket = "a.b"; }), "'a.b'"},
      {job_config([](DurableJobQueueConfig& c) { c.lease = 0ms; }), "lease: 0 ms"},
      {job_config([](DurableJobQueueConfig& c) { c.lease = -1ms; }), "lease: -1 ms"},
      {job_config([](DurableJobQueueConfig& c) { c.max_attempts = 0; }), "max_attempts: 0"},
      {job_config([](DurableJobQueueConfig& c) { c.reap_period = 0ms; }), "reap_period: 0 ms"},
      {job_config([](DurableJobQueueConfig& c) { c.reap_period = 61s; }), "reap_period: 61000 ms"},
      {job_config([](DurableJobQueueConfig& c) { c.replicas = 0; }), "replicas 0"}};
  for (const auto& [config, quoted] : bad_configs) {
    const errc expected = quoted.front() == '\'' ? errc::invalid_name : errc::invalid_argument;
    cases.push_back({"durable job queue config " + quoted,
                     sync([conn, config = config] { DurableJobQueue<json> queue(conn, config); }), expected, quoted});
  }

  DurableJobQueue<json> queue(conn, DurableJobQueueConfig());
  for (const std::string worker : {"", "w\n", "a\xff"}) {
    const std::string quoted = worker == "w\n" ? "'w\\x0A'" : worker.empty() ? "''" : "'a\\xFF'";
    cases.push_back({"submit for worker '" + worker + "'",
                     [queue, worker]() mutable -> awaitable<void> {
                       json payload = json::object();
                       co_await queue.submit(std::move(payload), worker, "me");
                     },
                     errc::invalid_name, quoted});
    cases.push_back({"claim for worker '" + worker + "'",
                     [queue, worker]() mutable -> awaitable<void> { co_await queue.claim(worker); },
                     errc::invalid_name, quoted});
    cases.push_back({"next for worker '" + worker + "'",
                     [queue, worker]() mutable -> awaitable<void> { co_await queue.next(worker); },
                     errc::invalid_name, quoted});
  }
  for (const std::string id : {"", "a b", "JOB-001.x", "JOB*", "JOB-001\n"}) {
    cases.push_back({"complete job '" + id + "'",
                     [queue, id]() mutable -> awaitable<void> { co_await queue.complete(id, json::object()); },
                     errc::invalid_argument, "'" + id + "'"});
    cases.push_back({"fail job '" + id + "'",
                     [queue, id]() mutable -> awaitable<void> { co_await queue.fail(id, "broken"); },
                     errc::invalid_argument, "'" + id + "'"});
    cases.push_back({"cancel job '" + id + "'",
                     [queue, id]() mutable -> awaitable<void> { co_await queue.cancel(id); },
                     errc::invalid_argument, "'" + id + "'"});
    cases.push_back({"extend the lease of job '" + id + "'",
                     [queue, id]() mutable -> awaitable<void> { co_await queue.extend_lease(id); },
                     errc::invalid_argument, "'" + id + "'"});
    cases.push_back({"get job '" + id + "'", [queue, id]() mutable -> awaitable<void> { co_await queue.get(id); },
                     errc::invalid_argument, "'" + id + "'"});
  }
  return cases;
}

// A service state for the builder cases.
struct Counter {
  int count = 0;
};

std::vector<Case> service_cases(Connection conn) {
  std::vector<Case> cases;
  for (const std::string prefix : {"", "a b", "a.*", "a.>", "a..b"}) {
    cases.push_back({"service prefix '" + prefix + "'", sync([prefix] { ServiceBuilder<Counter>(prefix, Counter{}); }),
                     errc::invalid_subject, "'" + prefix + "'"});
  }
  const auto reply = [](std::string_view, Counter&) { return std::string("ok"); };
  for (const std::string command : {"", "a b", "*", "a.>", "a..b"}) {
    cases.push_back({"handler for command '" + command + "'",
                     sync([command, reply] { ServiceBuilder<Counter>("svc", Counter{}).handler(command, reply); }),
                     errc::invalid_subject, "'" + command + "'"});
  }
  cases.push_back({"service name 'a.b'", sync([] { ServiceBuilder<Counter>("svc", Counter{}).name("a.b"); }),
                   errc::invalid_name, "'a.b'"});
  cases.push_back({"service version '1.0'", sync([] { ServiceBuilder<Counter>("svc", Counter{}).version("1.0"); }),
                   errc::invalid_argument, "'1.0'"});

  // Settings that run() checks before connecting.
  struct BadRun {
    std::string what;
    std::function<void(ServiceBuilder<Counter>&)> change;
    errc expected;
    std::string quoted;
  };
  const std::vector<BadRun> bad_runs{
      {"queue group 'a b'", [](auto& b) { b.queue_group("a b"); }, errc::invalid_name, "'a b'"},
      {"max_in_flight 0", [](auto& b) { b.max_in_flight(0); }, errc::invalid_argument, "max_in_flight '0'"},
      {"shutdown_timeout -1 ms", [](auto& b) { b.shutdown_timeout(-1ms); }, errc::invalid_argument,
       "shutdown_timeout -1 ms"},
      {"event prefix 'a b'", [](auto& b) { b.event_prefix("a b"); }, errc::invalid_subject, "'a b'"},
      {"event prefix 'ev.*'", [](auto& b) { b.event_prefix("ev.*"); }, errc::invalid_subject, "'ev.*'"},
      {"event stream with 0 replicas", [](auto& b) { b.event_bus_stream(stream_with_replicas(0), "svc"); },
       errc::invalid_argument, "replicas 0"},
      {"name derived from prefix is fine but version is not",
       [](auto& b) {
         ServiceConfig settings;
         settings.version = "x";
         b.config(settings);
       },
       errc::invalid_argument, "'x'"}};
  for (const auto& bad : bad_runs) {
    cases.push_back({"service run with " + bad.what,
                     [conn, bad]() mutable -> awaitable<void> {
                       Counter state;
                       ServiceBuilder<Counter> builder("svc", state);
                       builder.connection(conn).handle_signals(false);
                       bad.change(builder);
                       co_await builder.run();
                     },
                     bad.expected, bad.quoted});
  }
  return cases;
}

}  // namespace

TEST_CASE("event bus rejects bad input") {
  asio::io_context io;
  check_cases(io, event_bus_cases(offline_connection(io)));
}

TEST_CASE("channels reject bad input") {
  asio::io_context io;
  check_cases(io, channel_cases(offline_connection(io)));
}

TEST_CASE("KV store rejects bad input") {
  asio::io_context io;
  check_cases(io, kv_cases(offline_connection(io)));
}

TEST_CASE("object store rejects bad input") {
  asio::io_context io;
  check_cases(io, object_store_cases(offline_connection(io)));
}

TEST_CASE("registry, config, health reject bad input") {
  asio::io_context io;
  check_cases(io, registry_cases(offline_connection(io)));
}

TEST_CASE("snapshots and artifacts reject bad input") {
  asio::io_context io;
  check_cases(io, snapshot_artifact_cases(offline_connection(io)));
}

TEST_CASE("job queues reject bad input") {
  asio::io_context io;
  check_cases(io, job_queue_cases(offline_connection(io)));
}

TEST_CASE("service builder rejects bad input") {
  asio::io_context io;
  check_cases(io, service_cases(offline_connection(io)));
}

// The order of the checks: a valid call on an unconnected connection reaches the network step
// and fails there, so the cases above did fail at their input checks.
TEST_CASE("valid block calls reach the network") {
  asio::io_context io;
  Connection conn = offline_connection(io);
  EventBus bus(conn);
  KvStore kv(conn, KvBucketConfig("B"));
  ObjectStore store(conn, object_bucket([](ObjectStoreConfig&) {}));
  DurableJobQueue<json> queue(conn, DurableJobQueueConfig());
  const std::vector<std::pair<std::string, std::function<awaitable<void>()>>> calls{
      {"emit_event",
       [bus]() mutable -> awaitable<void> {
         const json payload = json::object();
         co_await bus.emit_event("ok", payload);
       }},
      {"KV put",
       [kv]() mutable -> awaitable<void> {
         const std::string value = "v";
         co_await kv.put("ok", value);
       }},
      {"KV get_revision", [kv]() mutable -> awaitable<void> { co_await kv.get_revision("ok", 1); }},
      {"object put", [store]() mutable -> awaitable<void> { co_await store.put("ok", "x", ""); }},
      {"job get", [queue]() mutable -> awaitable<void> { co_await queue.get("JOB-001"); }},
  };
  for (const auto& [what, call] : calls) {
    INFO(what);
    const auto [code, message] = failure_of(io, call);
    INFO("message: " << message);
    CHECK(code == condition::not_connected);
  }
}
