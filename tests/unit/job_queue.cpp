// Unit tests of Job<T> and the in-memory JobQueue<T>: lifecycle, ordering, the Rust JSON format,
// files and concurrent use.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <noesis/ship/job.hpp>
#include <noesis/ship/job_queue.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ship = noesis::ship;
using nlohmann::json;
using ship::Job;
using ship::JobQueue;
using ship::JobStatus;

namespace build {

// The payload of the Rust documentation's build-queue example.
struct Payload {
  std::string repo;
  std::string branch;

  friend bool operator==(const Payload&, const Payload&) = default;
};

void to_json(json& j, const Payload& payload) {
  j = {{"repo", payload.repo}, {"branch", payload.branch}};
}

void from_json(const json& j, Payload& payload) {
  j.at("repo").get_to(payload.repo);
  j.at("branch").get_to(payload.branch);
}

}  // namespace build

namespace {

// A clock the test sets by hand, so several jobs can share one millisecond.
struct ManualClock {
  std::shared_ptr<std::int64_t> now = std::make_shared<std::int64_t>(1'700'000'000'000);

  JobQueue<build::Payload>::Clock function() const {
    return [now = now] { return *now; };
  }
};

build::Payload payload(std::string repo) {
  return {std::move(repo), "main"};
}

// A queue in the Rust format, written by hand from its field list: one job in each status.
constexpr const char* golden_queue = R"({
  "jobs": {
    "BUILD-001": {"id": "BUILD-001", "payload": {"repo": "myapp", "branch": "main"}, "status": "queued",
                  "worker": "ci-server", "queued_by": "developer-1", "queued_at": 1700000000000,
                  "started_at": null, "completed_at": null, "result": null, "error": null},
    "BUILD-002": {"id": "BUILD-002", "payload": {"repo": "lib", "branch": "dev"}, "status": "running",
                  "worker": "ci-server", "queued_by": "developer-2", "queued_at": 1700000000100,
                  "started_at": 1700000000200, "completed_at": null, "result": null, "error": null},
    "BUILD-003": {"id": "BUILD-003", "payload": {"repo": "web", "branch": "main"}, "status": "complete",
                  "worker": "gpu-box", "queued_by": "developer-1", "queued_at": 1700000000300,
                  "started_at": 1700000000400, "completed_at": 1700000000500,
                  "result": {"artifact": "web.tar.gz", "tests": 42}, "error": null},
    "BUILD-004": {"id": "BUILD-004", "payload": {"repo": "cli", "branch": "fix"}, "status": "failed",
                  "worker": "gpu-box", "queued_by": "developer-3", "queued_at": 1700000000600,
                  "started_at": 1700000000700, "completed_at": 1700000000800, "result": null,
                  "error": "compiler exited with status 1"}
  },
  "prefix": "BUILD",
  "next_id": 5
})";

std::vector<std::string> ids_of(const std::vector<Job<build::Payload>>& jobs) {
  std::vector<std::string> ids;
  for (const auto& job : jobs) ids.push_back(job.id);
  return ids;
}

// Returns the what() of the noesis::ship::error that `action` throws, after checking its code.
template <class Action>
std::string error_message(Action&& action, std::error_code expected) {
  try {
    action();
  } catch (const ship::error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("no noesis::ship::error was thrown");
  return {};
}

// A directory under the system temporary directory, removed with everything in it at scope exit.
struct TempDirectory {
  std::filesystem::path path;

  TempDirectory() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("noesis_job_queue_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  ~TempDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

}  // namespace

TEST_CASE("job status strings and parsing", "[job]") {
  CHECK(ship::to_string(JobStatus::queued) == "queued");
  CHECK(ship::to_string(JobStatus::running) == "running");
  CHECK(ship::to_string(JobStatus::complete) == "complete");
  CHECK(ship::to_string(JobStatus::failed) == "failed");

  CHECK(ship::parse_job_status("queued") == JobStatus::queued);
  CHECK(ship::parse_job_status("running") == JobStatus::running);
  CHECK(ship::parse_job_status("complete") == JobStatus::complete);
  CHECK(ship::parse_job_status("failed") == JobStatus::failed);
  CHECK_FALSE(ship::parse_job_status("Queued").has_value());
  CHECK_FALSE(ship::parse_job_status("completed").has_value());
  CHECK_FALSE(ship::parse_job_status("").has_value());

  CHECK(json(JobStatus::running) == "running");
  CHECK(json("failed").get<JobStatus>() == JobStatus::failed);
  const auto message = error_message([] { (void)json("done").get<JobStatus>(); }, ship::errc::serialization);
  CHECK_THAT(message, Catch::Contains("'done'"));
  CHECK_THAT(message, Catch::Contains("queued, running, complete, failed"));
  error_message([] { (void)json(3).get<JobStatus>(); }, ship::errc::serialization);
}

TEST_CASE("job ids are zero-padded to three digits", "[job_queue]") {
  JobQueue<build::Payload> queue("BUILD");
  std::vector<std::string> ids;
  for (int i = 1; i <= 1000; ++i) ids.push_back(queue.submit(payload("r"), "w", "me"));

  CHECK(ids[0] == "BUILD-001");
  CHECK(ids[8] == "BUILD-009");
  CHECK(ids[9] == "BUILD-010");
  CHECK(ids[98] == "BUILD-099");
  CHECK(ids[99] == "BUILD-100");
  CHECK(ids[998] == "BUILD-999");
  CHECK(ids[999] == "BUILD-1000");
  for (int i = 1; i <= 1000; ++i) {
    auto expected = std::to_string(i);
    while (expected.size() < 3) expected.insert(0, "0");
    REQUIRE(ids[static_cast<std::size_t>(i - 1)] == "BUILD-" + expected);
  }
  CHECK(queue.size() == 1000);
  CHECK(queue.to_json()["next_id"] == 1001);
}

TEST_CASE("submit stops at the u32 next_id limit", "[job_queue]") {
  auto queue = JobQueue<build::Payload>::from_json(
      json{{"jobs", json::object()}, {"prefix", "BUILD"}, {"next_id", 4294967294LL}});
  CHECK(queue.submit(payload("r"), "w", "me") == "BUILD-4294967294");

  const auto message =
      error_message([&] { queue.submit(payload("r"), "w", "me"); }, ship::errc::invalid_argument);
  CHECK_THAT(message, Catch::Contains("4294967295"));
  CHECK(queue.size() == 1);
  CHECK(queue.to_json()["next_id"] == 4294967295LL);
}

TEST_CASE("job queue default prefix is JOB", "[job_queue]") {
  JobQueue<build::Payload> queue;
  CHECK(queue.prefix() == "JOB");
  CHECK(queue.submit(payload("r"), "w", "me") == "JOB-001");
}

TEST_CASE("job queue rejects invalid prefixes", "[job_queue]") {
  for (const std::string prefix : {"", "a b", "x.y", "x*", "x>", "caf\xc3\xa9", "tab\t"}) {
    INFO("prefix: " << prefix);
    const auto message =
        error_message([&] { JobQueue<build::Payload> queue(prefix); }, ship::errc::invalid_name);
    CHECK_THAT(message, Catch::Contains("'" + prefix + "'"));
    CHECK_THAT(message, Catch::Contains("allowed"));
  }
  CHECK_NOTHROW(JobQueue<build::Payload>("build_2-x"));
  CHECK_NOTHROW(JobQueue<build::Payload>("-"));
}

TEST_CASE("claim takes oldest, ties by submission", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> queue("BUILD", clock.function());

  *clock.now = 200;
  const auto late = queue.submit(payload("late"), "w", "me");
  *clock.now = 100;
  const auto first = queue.submit(payload("first"), "w", "me");
  const auto second = queue.submit(payload("second"), "w", "me");
  const auto third = queue.submit(payload("third"), "w", "me");

  *clock.now = 300;
  for (const auto& expected : {first, second, third, late}) {
    const auto job = queue.claim("w");
    REQUIRE(job.has_value());
    CHECK(job->id == expected);
    CHECK(job->status == JobStatus::running);
    CHECK(job->started_at == 300);
  }
  CHECK_FALSE(queue.claim("w").has_value());
}

TEST_CASE("claim ties order numerically past id 999", "[job_queue]") {
  // "BUILD-1000" sorts before "BUILD-998" as a string, so only numeric order passes.
  ManualClock clock;
  auto queue = JobQueue<build::Payload>::from_json(
      json{{"jobs", json::object()}, {"prefix", "BUILD"}, {"next_id", 998}}, clock.function());

  std::vector<std::string> submitted;
  for (int i = 0; i < 5; ++i) submitted.push_back(queue.submit(payload("r"), "w", "me"));
  CHECK(submitted.front() == "BUILD-998");
  CHECK(submitted.back() == "BUILD-1002");

  CHECK(ids_of(queue.list()) == submitted);
  for (const auto& expected : submitted) {
    const auto job = queue.claim("w");
    REQUIRE(job.has_value());
    CHECK(job->id == expected);
  }
}

TEST_CASE("claim keeps submission order after a JSON round trip", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> original("BUILD", clock.function());
  std::vector<std::string> submitted;
  for (int i = 0; i < 20; ++i) submitted.push_back(original.submit(payload("r"), "w", "me"));

  auto restored = JobQueue<build::Payload>::from_json(original.to_json(), clock.function());
  for (const auto& expected : submitted) {
    const auto job = restored.claim("w");
    REQUIRE(job.has_value());
    CHECK(job->id == expected);
  }
}

TEST_CASE("claim ignores priority, as Rust does", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> original("BUILD", clock.function());
  const auto first = original.submit(payload("first"), "w", "me");
  const auto second = original.submit(payload("second"), "w", "me");
  auto document = original.to_json();
  document["jobs"][second]["priority"] = 9;

  auto queue = JobQueue<build::Payload>::from_json(document, clock.function());
  REQUIRE(queue.get(second)->priority == 9);
  CHECK(queue.claim("w")->id == first);
  CHECK(queue.claim("w")->id == second);
}

TEST_CASE("claim matches the worker exactly", "[job_queue]") {
  JobQueue<build::Payload> queue("BUILD");
  const auto id = queue.submit(payload("r"), "ci-server", "me");

  CHECK_FALSE(queue.claim("CI-SERVER").has_value());
  CHECK_FALSE(queue.claim("ci-server ").has_value());
  CHECK_FALSE(queue.claim("ci").has_value());
  CHECK_FALSE(queue.claim("ci-server-2").has_value());
  CHECK_FALSE(queue.claim("").has_value());
  CHECK(queue.get(id)->status == JobStatus::queued);

  const auto job = queue.claim("ci-server");
  REQUIRE(job.has_value());
  CHECK(job->id == id);
  CHECK_FALSE(queue.claim("ci-server").has_value());
}

TEST_CASE("claim skips other workers' older jobs", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> queue("BUILD", clock.function());
  *clock.now = 1;
  const auto for_a = queue.submit(payload("a"), "worker-a", "me");
  *clock.now = 2;
  const auto for_b = queue.submit(payload("b"), "worker-b", "me");

  CHECK(queue.claim("worker-b")->id == for_b);
  CHECK(queue.claim("worker-a")->id == for_a);
}

TEST_CASE("complete and fail apply only to running jobs", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> queue("BUILD", clock.function());
  const auto id = queue.submit(payload("r"), "w", "me");

  SECTION("a queued job cannot be completed or failed") {
    const auto before = queue.get(id);
    CHECK_FALSE(queue.complete(id, json{{"ok", true}}));
    CHECK_FALSE(queue.fail(id, "boom"));
    CHECK(queue.get(id) == before);
  }

  SECTION("a running job completes once and then cannot fail") {
    REQUIRE(queue.claim("w").has_value());
    *clock.now += 50;
    CHECK(queue.complete(id, json{{"ok", true}}));

    const auto job = queue.get(id);
    REQUIRE(job.has_value());
    CHECK(job->status == JobStatus::complete);
    CHECK(job->completed_at == *clock.now);
    CHECK(job->result == json{{"ok", true}});
    CHECK_FALSE(job->error.has_value());

    CHECK_FALSE(queue.fail(id, "late failure"));
    CHECK_FALSE(queue.complete(id, json{{"ok", false}}));
    CHECK(queue.get(id) == job);
  }

  SECTION("a running job fails once and then cannot complete") {
    REQUIRE(queue.claim("w").has_value());
    *clock.now += 70;
    CHECK(queue.fail(id, "compiler exited with status 1"));

    const auto job = queue.get(id);
    REQUIRE(job.has_value());
    CHECK(job->status == JobStatus::failed);
    CHECK(job->completed_at == *clock.now);
    CHECK(job->error == "compiler exited with status 1");
    CHECK(job->result.is_null());

    CHECK_FALSE(queue.complete(id, json{{"ok", true}}));
    CHECK_FALSE(queue.fail(id, "again"));
    CHECK(queue.get(id) == job);
  }

  SECTION("unknown ids change nothing") {
    CHECK_FALSE(queue.complete("BUILD-999", json{}));
    CHECK_FALSE(queue.fail("BUILD-999", "x"));
    CHECK_FALSE(queue.get("BUILD-999").has_value());
    CHECK(queue.size() == 1);
  }
}

TEST_CASE("job queue counts size and empty", "[job_queue]") {
  JobQueue<build::Payload> queue("BUILD");
  CHECK(queue.empty());
  CHECK(queue.size() == 0);
  CHECK(queue.counts() == ship::JobCounts{});

  const auto a = queue.submit(payload("a"), "w", "me");
  const auto b = queue.submit(payload("b"), "w", "me");
  queue.submit(payload("c"), "w", "me");
  queue.submit(payload("d"), "w", "me");
  queue.submit(payload("e"), "w", "me");
  REQUIRE(queue.claim("w")->id == a);
  REQUIRE(queue.claim("w")->id == b);
  REQUIRE(queue.claim("w").has_value());
  REQUIRE(queue.complete(a, json("done")));
  REQUIRE(queue.fail(b, "broken"));

  const auto [queued, running, complete, failed] = queue.counts();
  CHECK(queued == 2);
  CHECK(running == 1);
  CHECK(complete == 1);
  CHECK(failed == 1);
  CHECK(queue.size() == 5);
  CHECK_FALSE(queue.empty());
}

TEST_CASE("job queue list filters and orders", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> queue("BUILD", clock.function());
  *clock.now = 30;
  const auto newest = queue.submit(payload("newest"), "w", "me");
  *clock.now = 10;
  const auto oldest = queue.submit(payload("oldest"), "other", "me");
  const auto oldest_tie = queue.submit(payload("oldest tie"), "w", "me");
  *clock.now = 20;
  const auto middle = queue.submit(payload("middle"), "w", "me");

  CHECK(ids_of(queue.list()) == std::vector<std::string>{oldest, oldest_tie, middle, newest});

  REQUIRE(queue.claim("w")->id == oldest_tie);
  REQUIRE(queue.claim("w")->id == middle);
  REQUIRE(queue.complete(middle, nullptr));

  CHECK(ids_of(queue.list(JobStatus::queued)) == std::vector<std::string>{oldest, newest});
  CHECK(ids_of(queue.list(JobStatus::running)) == std::vector<std::string>{oldest_tie});
  CHECK(ids_of(queue.list(JobStatus::complete)) == std::vector<std::string>{middle});
  CHECK(queue.list(JobStatus::failed).empty());
}

TEST_CASE("job JSON has the Rust keys and no others", "[job]") {
  Job<build::Payload> job;
  job.id = "BUILD-001";
  job.payload = {"myapp", "main"};
  job.worker = "ci-server";
  job.queued_by = "developer-1";
  job.queued_at = 1'700'000'000'000;

  const auto expected = json::parse(R"({"id":"BUILD-001","payload":{"repo":"myapp","branch":"main"},
      "status":"queued","worker":"ci-server","queued_by":"developer-1","queued_at":1700000000000,
      "started_at":null,"completed_at":null,"result":null,"error":null})");
  CHECK(json(job) == expected);
  CHECK(json(job).dump() == expected.dump());
  CHECK(expected.get<Job<build::Payload>>() == job);
}

TEST_CASE("job durable fields are written only when set", "[job]") {
  Job<build::Payload> job;
  job.id = "BUILD-007";
  job.attempts = 3;
  job.priority = -2;
  job.lease_expires_at = 1'700'000'060'000;

  const json encoded = job;
  CHECK(encoded["attempts"] == 3);
  CHECK(encoded["priority"] == -2);
  CHECK(encoded["lease_expires_at"] == 1'700'000'060'000);
  CHECK(encoded.get<Job<build::Payload>>() == job);

  job.attempts = 0;
  job.priority = 0;
  job.lease_expires_at.reset();
  const json plain = job;
  CHECK_FALSE(plain.contains("attempts"));
  CHECK_FALSE(plain.contains("priority"));
  CHECK_FALSE(plain.contains("lease_expires_at"));
  CHECK(plain.size() == 10);
}

TEST_CASE("job decoding treats missing optional keys as null", "[job]") {
  const auto job = json::parse(R"({"id":"JOB-001","payload":{"repo":"r","branch":"b"},"status":"queued",
      "worker":"w","queued_by":"me","queued_at":5})")
                       .get<Job<build::Payload>>();
  CHECK_FALSE(job.started_at.has_value());
  CHECK_FALSE(job.completed_at.has_value());
  CHECK(job.result.is_null());
  CHECK_FALSE(job.error.has_value());
  CHECK(job.attempts == 0);
  CHECK(job.priority == 0);
  CHECK_FALSE(job.lease_expires_at.has_value());
}

TEST_CASE("job decoding names the bad field", "[job]") {
  const auto valid = json::parse(R"({"id":"JOB-001","payload":{"repo":"r","branch":"b"},"status":"queued",
      "worker":"w","queued_by":"me","queued_at":5})");

  for (const char* field : {"id", "payload", "status", "worker", "queued_by", "queued_at"}) {
    INFO("removed field: " << field);
    auto broken = valid;
    broken.erase(field);
    const auto message =
        error_message([&] { (void)broken.get<Job<build::Payload>>(); }, ship::errc::serialization);
    CHECK_THAT(message, Catch::Contains(std::string("'") + field + "' is missing"));
  }

  struct Case {
    const char* field;
    json value;
  };
  const std::vector<Case> cases = {
      {"status", "done"},         {"status", "Queued"},
      {"queued_at", "yesterday"}, {"queued_at", 1.5},
      {"started_at", "x"},        {"worker", 7},
      {"error", json::array()},   {"attempts", -1},
      {"attempts", 4294967296LL}, {"payload", json{{"repo", 1}}},
  };
  for (const auto& [field, value] : cases) {
    INFO("field " << field << " = " << value.dump());
    auto broken = valid;
    broken[field] = value;
    const auto message =
        error_message([&] { (void)broken.get<Job<build::Payload>>(); }, ship::errc::serialization);
    CHECK_THAT(message, Catch::Contains(std::string("field '") + field + "'"));
    CHECK_THAT(message, Catch::Contains("job 'JOB-001'"));
  }

  error_message([] { (void)json::array().get<Job<build::Payload>>(); }, ship::errc::serialization);
}

TEST_CASE("golden Rust queue decodes and re-encodes unchanged", "[job_queue]") {
  const auto golden = json::parse(golden_queue);
  const auto queue = JobQueue<build::Payload>::from_json(golden);

  CHECK(queue.to_json() == golden);
  CHECK(queue.prefix() == "BUILD");
  CHECK(queue.size() == 4);
  CHECK(queue.counts() == ship::JobCounts{1, 1, 1, 1});

  const auto first = queue.get("BUILD-001");
  REQUIRE(first.has_value());
  CHECK(first->payload == build::Payload{"myapp", "main"});
  CHECK(first->worker == "ci-server");
  CHECK(first->queued_by == "developer-1");
  CHECK(first->queued_at == 1'700'000'000'000);

  const auto done = queue.get("BUILD-003");
  REQUIRE(done.has_value());
  CHECK(done->status == JobStatus::complete);
  CHECK(done->completed_at == 1'700'000'000'500);
  CHECK(done->result["tests"] == 42);

  const auto failed = queue.get("BUILD-004");
  REQUIRE(failed.has_value());
  CHECK(failed->error == "compiler exited with status 1");
}

TEST_CASE("golden single-job queue matches Rust", "[job_queue]") {
  const auto golden = json::parse(
      R"({"jobs":{"BUILD-001":{"id":"BUILD-001","payload":{"repo":"myapp","branch":"main"},"status":"queued","worker":"ci-server","queued_by":"developer-1","queued_at":1700000000000,"started_at":null,"completed_at":null,"result":null,"error":null}},"prefix":"BUILD","next_id":2})");
  ManualClock clock;
  auto queue = JobQueue<build::Payload>::from_json(golden, clock.function());
  CHECK(queue.to_json() == golden);

  // A job submitted now is the same value the Rust library would have stored.
  JobQueue<build::Payload> fresh("BUILD", clock.function());
  fresh.submit({"myapp", "main"}, "ci-server", "developer-1");
  CHECK(fresh.to_json() == golden);

  CHECK(queue.submit(payload("next"), "ci-server", "me") == "BUILD-002");
}

TEST_CASE("job queue JSON round trip keeps every job", "[job_queue]") {
  ManualClock clock;
  JobQueue<build::Payload> original("TRAIN", clock.function());
  for (int i = 0; i < 6; ++i) {
    *clock.now += i % 2;
    original.submit(payload("r" + std::to_string(i)), i < 3 ? "gpu-1" : "gpu-2", "scheduler");
  }
  const auto running = original.claim("gpu-1");
  const auto done = original.claim("gpu-1");
  const auto broken = original.claim("gpu-2");
  REQUIRE(running);
  REQUIRE(done);
  REQUIRE(broken);
  REQUIRE(original.complete(done->id, json{{"loss", 0.25}}));
  REQUIRE(original.fail(broken->id, "out of memory"));

  const auto encoded = original.to_json();
  auto restored = JobQueue<build::Payload>::from_json(encoded, clock.function());
  CHECK(restored.to_json() == encoded);
  CHECK(restored.list() == original.list());
  CHECK(restored.counts() == original.counts());
  CHECK(restored.submit(payload("next"), "gpu-1", "scheduler") == "TRAIN-007");
}

TEST_CASE("job queue decoding rejects invalid queues", "[job_queue]") {
  const auto golden = json::parse(golden_queue);

  struct Case {
    const char* name;
    json document;
    const char* expected_text;
  };
  auto without = [&](const char* key) {
    auto document = golden;
    document.erase(key);
    return document;
  };
  auto with = [&](const json::json_pointer& pointer, json value) {
    auto document = golden;
    document[pointer] = std::move(value);
    return document;
  };

  const std::vector<Case> cases = {
      {"not an object", json::array(), "expected an object"},
      {"no jobs", without("jobs"), "'jobs' is missing"},
      {"no prefix", without("prefix"), "'prefix' is missing"},
      {"no next_id", without("next_id"), "'next_id' is missing"},
      {"jobs not an object", with(json::json_pointer("/jobs"), json::array()), "field 'jobs'"},
      {"invalid prefix", with(json::json_pointer("/prefix"), "BU ILD"), "'BU ILD'"},
      {"next_id zero", with(json::json_pointer("/next_id"), 0), "field 'next_id'"},
      {"next_id negative", with(json::json_pointer("/next_id"), -3), "field 'next_id'"},
      {"next_id above u32", with(json::json_pointer("/next_id"), 4294967296LL), "field 'next_id'"},
      {"next_id not above an id", with(json::json_pointer("/next_id"), 4), "job 'BUILD-004' exists"},
      {"bad status", with(json::json_pointer("/jobs/BUILD-002/status"), "paused"),
       "job 'BUILD-002': field 'status'"},
      {"id differs from key", with(json::json_pointer("/jobs/BUILD-002/id"), "BUILD-009"),
       "job 'BUILD-002': field 'id'"},
      {"missing worker",
       [&] {
         auto document = golden;
         document["jobs"]["BUILD-003"].erase("worker");
         return document;
       }(),
       "job 'BUILD-003': field 'worker' is missing"},
  };

  for (const auto& test : cases) {
    INFO("case: " << test.name);
    const auto message = error_message([&] { (void)JobQueue<build::Payload>::from_json(test.document); },
                                       ship::errc::serialization);
    CHECK_THAT(message, Catch::Contains(test.expected_text));
  }
}

TEST_CASE("job queue decoding accepts ids outside the submit form", "[job_queue]") {
  // Hand-made ids cannot collide with submit()'s ids, so next_id need not pass them.
  auto document = json::parse(golden_queue);
  auto job = document["jobs"]["BUILD-001"];
  job["id"] = "BUILD-77";
  document["jobs"]["BUILD-77"] = job;
  job["id"] = "manual";
  document["jobs"]["manual"] = job;

  auto queue = JobQueue<build::Payload>::from_json(document);
  CHECK(queue.to_json() == document);
  // All three share queued_at; submit-form ids come first, the others by id.
  CHECK(queue.claim("ci-server")->id == "BUILD-001");
  CHECK(queue.claim("ci-server")->id == "BUILD-77");
  CHECK(queue.claim("ci-server")->id == "manual");
}

TEST_CASE("job queue save and load a file", "[job_queue]") {
  TempDirectory directory;
  const auto path = directory.path / "queue.json";

  ManualClock clock;
  JobQueue<build::Payload> original("BUILD", clock.function());
  original.submit(payload("a"), "w", "me");
  original.submit(payload("b"), "w", "me");
  REQUIRE(original.claim("w"));
  original.save(path);
  original.submit(payload("c"), "w", "me");
  original.save(path);

  JobQueue<build::Payload> loaded("OTHER", clock.function());
  loaded.load(path);
  CHECK(loaded.to_json() == original.to_json());
  CHECK(loaded.prefix() == "BUILD");

  // Only the final file remains: every temporary file was renamed over it.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory.path)) files.push_back(entry.path());
  CHECK(files == std::vector<std::filesystem::path>{path});
}

TEST_CASE("job queue load failure leaves the queue unchanged", "[job_queue]") {
  TempDirectory directory;
  JobQueue<build::Payload> queue("BUILD");
  queue.submit(payload("a"), "w", "me");
  const auto before = queue.to_json();

  SECTION("truncated JSON") {
    const auto path = directory.path / "truncated.json";
    write_text(path, std::string(golden_queue).substr(0, 200));
    const auto message = error_message([&] { queue.load(path); }, ship::errc::serialization);
    CHECK_THAT(message, Catch::Contains(path.string()));
    CHECK_THAT(message, Catch::Contains("invalid JSON"));
  }

  SECTION("valid JSON with a bad status") {
    const auto path = directory.path / "bad_status.json";
    auto document = json::parse(golden_queue);
    document["jobs"]["BUILD-004"]["status"] = "crashed";
    write_text(path, document.dump());
    const auto message = error_message([&] { queue.load(path); }, ship::errc::serialization);
    CHECK_THAT(message, Catch::Contains(path.string()));
    CHECK_THAT(message, Catch::Contains("job 'BUILD-004': field 'status'"));
  }

  SECTION("missing file") {
    const auto path = directory.path / "missing.json";
    const auto message =
        error_message([&] { queue.load(path); }, std::make_error_code(std::errc::no_such_file_or_directory));
    CHECK_THAT(message, Catch::Contains(path.string()));
  }

  CHECK(queue.to_json() == before);
}

TEST_CASE("job queue save reports an unwritable path", "[job_queue]") {
  TempDirectory directory;
  JobQueue<build::Payload> queue("BUILD");
  const auto path = directory.path / "no_such_directory" / "queue.json";
  const auto message =
      error_message([&] { queue.save(path); }, std::make_error_code(std::errc::no_such_file_or_directory));
  CHECK_THAT(message, Catch::Contains(path.string()));
}

TEST_CASE("job queue move keeps jobs and empties the source", "[job_queue]") {
  JobQueue<build::Payload> source("BUILD");
  const auto id = source.submit(payload("a"), "w", "me");

  JobQueue<build::Payload> moved(std::move(source));
  CHECK(moved.get(id).has_value());
  CHECK(source.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is documented
  CHECK(source.prefix() == "BUILD");

  JobQueue<build::Payload> assigned("OTHER");
  assigned = std::move(moved);
  CHECK(assigned.get(id).has_value());
  CHECK(assigned.submit(payload("b"), "w", "me") == "BUILD-002");
}

TEST_CASE("concurrent submits and claims take each job once", "[job_queue]") {
  constexpr int thread_count = 4;
  constexpr int jobs_per_thread = 500;
  constexpr int total_jobs = thread_count * jobs_per_thread;

  JobQueue<build::Payload> queue("LOAD");
  std::atomic<int> submitted{0};
  std::vector<std::vector<std::string>> claimed(thread_count);

  // Each thread alternates submit and claim, then, once every job is submitted, claims until the
  // queue has no queued job left. Both loops are bounded by total_jobs.
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = claimed[static_cast<std::size_t>(t)];
      for (int i = 0; i < jobs_per_thread; ++i) {
        queue.submit(payload("t" + std::to_string(t)), "worker", "thread-" + std::to_string(t));
        ++submitted;
        if (auto job = queue.claim("worker")) mine.push_back(job->id);
      }
      while (submitted.load() < total_jobs) std::this_thread::yield();
      while (auto job = queue.claim("worker")) mine.push_back(job->id);
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::string> unique;
  std::size_t claim_count = 0;
  for (const auto& ids : claimed) {
    claim_count += ids.size();
    unique.insert(ids.begin(), ids.end());
  }
  CHECK(claim_count == total_jobs);
  CHECK(unique.size() == total_jobs);
  CHECK(queue.counts() == ship::JobCounts{0, total_jobs, 0, 0});
  CHECK(unique.count("LOAD-001") == 1);
  CHECK(unique.count("LOAD-2000") == 1);
}
