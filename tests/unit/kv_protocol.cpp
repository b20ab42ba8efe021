// Sans-I/O KV pieces: subjects, the bucket stream, entry decoding and the watch state machine.
#include <catch2/catch.hpp>

#include <functional>

#include <asio/io_context.hpp>

#include <noesis/ship/detail/kv_protocol.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/kv.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;
using namespace std::chrono_literals;

namespace {

std::error_code code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  return {};
}

}  // namespace

TEST_CASE("kv subjects and names") {
  CHECK(kv_stream_name("beings_status") == "KV_beings_status");
  CHECK(kv_subject_prefix("cfg") == "$KV.cfg.");
  CHECK(kv_key_subject("cfg", "a.b") == "$KV.cfg.a.b");
  CHECK(kv_key_from_subject("cfg", "$KV.cfg.a.b") == std::optional<std::string>("a.b"));
  CHECK_FALSE(kv_key_from_subject("cfg", "$KV.other.a"));
  CHECK_FALSE(kv_key_from_subject("cfg", "$KV.cfg."));
  CHECK_FALSE(kv_key_from_subject("cfg", "$KV.cfgx.a"));
}

TEST_CASE("kv compare-and-set message id") {
  CHECK(kv_revision_msg_id("job.BUILD-001", 42) == "job.BUILD-001@42");
  CHECK(kv_revision_msg_id("a", 1) != kv_revision_msg_id("a", 2));
  // A key that ends in digits does not collide with another key and revision.
  CHECK(kv_revision_msg_id("k1", 23) != kv_revision_msg_id("k12", 3));
}

TEST_CASE("kv operation header") {
  CHECK(parse_kv_operation(std::nullopt) == KvOperation::put);
  CHECK(parse_kv_operation("DEL") == KvOperation::del);
  CHECK(parse_kv_operation("PURGE") == KvOperation::purge);
  CHECK(parse_kv_operation("SOMETHING") == KvOperation::put);
  CHECK(to_string(KvOperation::del) == "DEL");
}

TEST_CASE("kv bucket stream without ttl") {
  const StreamConfig stream = kv_stream_config(KvBucketConfig("ship_config"));
  CHECK(stream.name == "KV_ship_config");
  CHECK(stream.subjects == std::vector<std::string>{"$KV.ship_config.>"});
  CHECK(stream.max_msgs_per_subject == 5);
  CHECK(stream.max_msgs == -1);
  CHECK(stream.max_age == 0s);
  CHECK(stream.allow_rollup_hdrs);
  CHECK(stream.deny_delete);
  CHECK(stream.allow_direct);
  CHECK(stream.discard == DiscardPolicy::new_messages);
  CHECK(stream.duplicate_window == std::chrono::nanoseconds(2min));
  CHECK(stream.storage == StorageType::file);
  CHECK(stream.replicas == 1);
  CHECK_NOTHROW(validate(stream));
}

TEST_CASE("kv bucket stream with ttl and limits") {
  KvBucketConfig config("beings_status");
  config.ttl = 300s;
  config.history = 64;
  config.max_value_size = 1024;
  config.max_bytes = 1 << 20;
  config.storage = StorageType::memory;
  config.description = "registry";
  const StreamConfig stream = kv_stream_config(config);
  CHECK(stream.max_age == 300s);
  CHECK(stream.duplicate_window == std::chrono::nanoseconds(2min));
  CHECK(stream.max_msgs_per_subject == 64);
  CHECK(stream.max_msg_size == 1024);
  CHECK(stream.max_bytes == (1 << 20));
  CHECK(stream.storage == StorageType::memory);
  CHECK(stream.description == "registry");

  const KvBucketConfig back = kv_bucket_config("beings_status", stream);
  CHECK(back == config);

  config.ttl = 2s;
  CHECK(kv_stream_config(config).duplicate_window == std::chrono::nanoseconds(2s));
}

TEST_CASE("kv bucket config rejects invalid values") {
  CHECK(code_of([] { kv_stream_config(KvBucketConfig("bad.name")); }) == errc::invalid_name);
  CHECK(code_of([] { kv_stream_config(KvBucketConfig("")); }) == errc::invalid_name);
  CHECK(code_of([] { kv_stream_config(KvBucketConfig("b").with_history(0)); }) == errc::invalid_argument);
  CHECK(code_of([] { kv_stream_config(KvBucketConfig("b").with_history(65)); }) == errc::invalid_argument);
  CHECK(code_of([] { kv_stream_config(KvBucketConfig("b").with_ttl(0s)); }) == errc::invalid_argument);
  KvBucketConfig replicas("b");
  replicas.replicas = 6;
  CHECK(code_of([&] { kv_stream_config(replicas); }) == errc::invalid_argument);
  KvBucketConfig size("b");
  size.max_value_size = -2;
  CHECK(code_of([&] { kv_stream_config(size); }) == errc::invalid_argument);

  try {
    kv_stream_config(KvBucketConfig("b").with_history(65));
    FAIL("no exception");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("history 65") && Catch::Contains("1..64"));
  }
}

TEST_CASE("kv entry from stored message") {
  StoredMessage stored;
  stored.subject = "$KV.cfg.a.b";
  stored.sequence = 42;
  stored.time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  stored.data = "value";
  KvEntry entry = kv_entry_from_stored("cfg", stored);
  CHECK(entry.bucket == "cfg");
  CHECK(entry.key == "a.b");
  CHECK(entry.value == "value");
  CHECK(entry.revision == 42);
  CHECK(entry.created == stored.time);
  CHECK(entry.operation == KvOperation::put);

  stored.headers = {{"KV-Operation", "PURGE"}, {"Nats-Rollup", "sub"}};
  stored.data.clear();
  CHECK(kv_entry_from_stored("cfg", stored).operation == KvOperation::purge);

  stored.subject = "$KV.other.a";
  CHECK(code_of([&] { kv_entry_from_stored("cfg", stored); }) == errc::invalid_key);
}

TEST_CASE("kv entry from delivered message") {
  KvDelivered msg;
  msg.subject = "$KV.reg.agent-1";
  msg.data = R"({"x":1})";
  msg.operation_header = "DEL";
  msg.stream_sequence = 7;
  msg.timestamp_ns = 1'700'000'000'123'456'789;
  msg.num_pending = 3;
  KvEntry entry = kv_entry_from_delivered("reg", msg);
  CHECK(entry.key == "agent-1");
  CHECK(entry.operation == KvOperation::del);
  CHECK(entry.revision == 7);
  CHECK(entry.delta == 3);
  CHECK(std::chrono::duration_cast<std::chrono::nanoseconds>(entry.created.time_since_epoch()).count() ==
        1'700'000'000'123'456'789);
  CHECK(entry.json<nlohmann::json>()["x"] == 1);
}

TEST_CASE("watch state marks end of initial values once") {
  KvWatchState machine(3, KvWatchOptions{});
  CHECK_FALSE(machine.take_marker_at_start());
  auto step = machine.on_entry(KvOperation::put, 2);
  CHECK(step.emit_entry);
  CHECK_FALSE(step.end_of_initial);
  step = machine.on_entry(KvOperation::del, 1);
  CHECK(step.emit_entry);
  CHECK_FALSE(step.end_of_initial);
  step = machine.on_entry(KvOperation::put, 0);
  CHECK(step.emit_entry);
  CHECK(step.end_of_initial);
  CHECK(machine.initial_done());
  // A later entry with pending 0 (a new write, or a consumer recreated after a restart) is no
  // second marker.
  step = machine.on_entry(KvOperation::put, 0);
  CHECK(step.emit_entry);
  CHECK_FALSE(step.end_of_initial);
}

TEST_CASE("watch state on an empty range") {
  KvWatchState machine(0, KvWatchOptions{});
  CHECK(machine.take_marker_at_start());
  CHECK_FALSE(machine.take_marker_at_start());
  const auto step = machine.on_entry(KvOperation::put, 0);
  CHECK(step.emit_entry);
  CHECK_FALSE(step.end_of_initial);
}

TEST_CASE("watch state with updates only") {
  KvWatchOptions options;
  options.updates_only = true;
  KvWatchState machine(10, options);
  CHECK(machine.take_marker_at_start());
  CHECK_FALSE(machine.on_entry(KvOperation::put, 0).end_of_initial);
}

TEST_CASE("watch state ignoring deletes still ends on a marker") {
  KvWatchOptions options;
  options.ignore_deletes = true;
  KvWatchState machine(2, options);
  CHECK_FALSE(machine.take_marker_at_start());
  auto step = machine.on_entry(KvOperation::put, 1);
  CHECK(step.emit_entry);
  // The newest message is a delete marker: not emitted, but it ends the initial values.
  step = machine.on_entry(KvOperation::del, 0);
  CHECK_FALSE(step.emit_entry);
  CHECK(step.end_of_initial);
  step = machine.on_entry(KvOperation::purge, 0);
  CHECK_FALSE(step.emit_entry);
  CHECK_FALSE(step.end_of_initial);
}

TEST_CASE("kv value encoding") {
  CHECK(kv_encode(std::string("raw")) == "raw");
  CHECK(kv_encode("literal") == "literal");
  CHECK(kv_encode(std::string_view("view")) == "view");
  CHECK(kv_encode(nlohmann::json{{"a", 1}}) == R"({"a":1})");
  CHECK(kv_encode(42) == "42");
}

TEST_CASE("kv store validates its configuration") {
  asio::io_context io;
  Connection conn(io.get_executor());
  CHECK(code_of([&] { KvStore kv(conn, KvBucketConfig("a.b")); }) == errc::invalid_name);
  KvStore kv(conn, KvBucketConfig("ok"));
  CHECK(kv.bucket() == "ok");
  CHECK(kv.config().history == 5);
}
