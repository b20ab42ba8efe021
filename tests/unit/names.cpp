// Tables of valid and invalid subjects, names and keys for every validator in names.hpp.
#include <noesis/ship/names.hpp>

#include <noesis/ship/error.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ship = noesis::ship;
using ship::errc;

namespace {

// Heap allocations made by this thread while an AllocationCounter exists. The replaced global
// operator new below counts them; the validators run on every publish, so the valid path must
// not allocate.
thread_local bool counting_allocations = false;
thread_local std::size_t counted_allocations = 0;

class AllocationCounter {
 public:
  AllocationCounter() {
    counted_allocations = 0;
    counting_allocations = true;
  }
  ~AllocationCounter() { counting_allocations = false; }
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  std::size_t count() const { return counted_allocations; }
};

}  // namespace

void* operator new(std::size_t size) {
  if (counting_allocations) ++counted_allocations;
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}

// The nothrow forms are replaced too, because deletes of every form below call free(). Without
// them, AddressSanitizer supplies its own nothrow new (Catch2 uses it to register test cases),
// and freeing that memory here is an alloc-dealloc mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting_allocations) ++counted_allocations;
  return std::malloc(size == 0 ? 1 : size);
}

void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }

namespace {

using Validate = std::function<void(std::string_view)>;
using IsValid = std::function<bool(std::string_view)>;

// An invalid input and the text the error message must contain to name it: the value in quotes,
// with bytes outside printable ASCII written as \xNN and long values shortened.
struct Invalid {
  std::string value;
  std::string quoted;
};

Invalid invalid(std::string value) {
  std::string quoted = "'" + value + "'";
  return {std::move(value), std::move(quoted)};
}

Invalid invalid(std::string value, std::string quoted) {
  return {std::move(value), std::move(quoted)};
}

// Checks that validate() accepts and is_valid() returns true for each value.
void check_accepts(const Validate& validate, const IsValid& is_valid,
                   const std::vector<std::string>& values) {
  for (const auto& value : values) {
    INFO("value: '" << value << "'");
    CHECK_NOTHROW(validate(value));
    CHECK(is_valid(value));
  }
}

// Checks that validate() throws `expected` naming the value and the rule, and that is_valid()
// returns false, for each case.
void check_rejects(const Validate& validate, const IsValid& is_valid, errc expected,
                   const std::vector<Invalid>& cases) {
  for (const auto& c : cases) {
    INFO("value quoted as " << c.quoted);
    CHECK_FALSE(is_valid(c.value));
    try {
      validate(c.value);
      FAIL_CHECK("validate() accepted the value");
    } catch (const ship::error& e) {
      const std::string message = e.what();
      INFO("message: " << message);
      CHECK(e.code() == expected);
      CHECK(message.find(c.quoted) != std::string::npos);
      CHECK(message.find("allowed: ") != std::string::npos);
    }
  }
}

std::string repeat(char c, std::size_t count) {
  return std::string(count, c);
}

// A value longer than the quoting limit appears as its first 200 bytes followed by "...".
std::string quoted_shortened(const std::string& value) {
  return "'" + value.substr(0, 200) + "...'";
}

}  // namespace

TEST_CASE("subject for publish", "[names]") {
  const Validate validate = [](std::string_view s) {
    ship::validate_subject(s, ship::SubjectUse::publish);
  };
  const IsValid is_valid = [](std::string_view s) {
    return ship::is_valid_subject(s, ship::SubjectUse::publish);
  };

  check_accepts(validate, is_valid,
                {"foo", "foo.bar", "ship.channel.dev", "$JS.API.INFO", "_INBOX.abc.def", "a*b.c>d",
                 "caf\xC3\xA9.order", repeat('a', ship::max_subject_length)});

  const std::string too_long = repeat('a', ship::max_subject_length + 1);
  check_rejects(
      validate, is_valid, errc::invalid_subject,
      {invalid("", "''"), invalid(".foo"), invalid("foo."), invalid("foo..bar"), invalid("foo bar"),
       invalid("foo\tbar", "'foo\\x09bar'"), invalid("foo\x01", "'foo\\x01'"),
       invalid("foo\x7f", "'foo\\x7F'"), invalid("*"), invalid(">"), invalid("foo.*"),
       invalid("foo.>"), invalid("foo.*.bar"), invalid(too_long, quoted_shortened(too_long))});
}

TEST_CASE("subject for subscribe", "[names]") {
  const Validate validate = [](std::string_view s) {
    ship::validate_subject(s, ship::SubjectUse::subscribe);
  };
  const IsValid is_valid = [](std::string_view s) {
    return ship::is_valid_subject(s, ship::SubjectUse::subscribe);
  };

  check_accepts(validate, is_valid,
                {"foo", ">", "*", "foo.*", "foo.>", "*.bar.>", "ship.events.>", "$O.B.M.>", "a*b"});

  check_rejects(
      validate, is_valid, errc::invalid_subject,
      {invalid("", "''"), invalid("foo.>.bar"), invalid(">.foo"), invalid("foo..*"), invalid(".>"),
       invalid("foo bar"), invalid(" foo"), invalid("foo.\n", "'foo.\\x0A'")});
}

TEST_CASE("subject error names problem", "[names]") {
  try {
    ship::validate_subject("orders.*", ship::SubjectUse::publish);
    FAIL("validate_subject accepted a wildcard for publish");
  } catch (const ship::error& e) {
    const std::string message = e.what();
    CHECK(message.find("invalid subject: 'orders.*'") != std::string::npos);
    CHECK(message.find("wildcard token '*'") != std::string::npos);
  }
  try {
    ship::validate_subject("a..b", ship::SubjectUse::subscribe);
    FAIL("validate_subject accepted an empty token");
  } catch (const ship::error& e) {
    CHECK(std::string(e.what()).find("empty token") != std::string::npos);
  }
}

TEST_CASE("stream and consumer names", "[names]") {
  const std::vector<std::string> valid = {"ORDERS",
                                          "KV_config",
                                          "OBJ_MY-STORE",
                                          "my-stream_1",
                                          "caf\xC3\xA9",
                                          "a=b:c",
                                          repeat('s', ship::max_stream_name_length)};
  const std::string too_long = repeat('s', ship::max_stream_name_length + 1);
  const std::vector<Invalid> rejected = {invalid("", "''"),
                                         invalid("a.b"),
                                         invalid("a*"),
                                         invalid("a>b"),
                                         invalid("a b"),
                                         invalid("a\tb", "'a\\x09b'"),
                                         invalid("a/b"),
                                         invalid("a\\b", "'a\\\\b'"),
                                         invalid("a\nb", "'a\\x0Ab'"),
                                         invalid(too_long, quoted_shortened(too_long))};

  SECTION("stream") {
    check_accepts(ship::validate_stream_name, ship::is_valid_stream_name, valid);
    check_rejects(ship::validate_stream_name, ship::is_valid_stream_name, errc::invalid_name,
                  rejected);
  }
  SECTION("consumer") {
    check_accepts(ship::validate_consumer_name, ship::is_valid_consumer_name, valid);
    check_rejects(ship::validate_consumer_name, ship::is_valid_consumer_name, errc::invalid_name,
                  rejected);
  }
}

TEST_CASE("bucket names", "[names]") {
  check_accepts(ship::validate_bucket_name, ship::is_valid_bucket_name,
                {"config", "MY-STORE", "a_b-c", "0", repeat('b', ship::max_bucket_name_length)});

  const std::string too_long = repeat('b', ship::max_bucket_name_length + 1);
  check_rejects(ship::validate_bucket_name, ship::is_valid_bucket_name, errc::invalid_name,
                {invalid("", "''"), invalid("a.b"), invalid("a b"), invalid("a/b"), invalid("a*"),
                 invalid("a>"), invalid("a=b"), invalid("caf\xC3\xA9", "'caf\\xC3\\xA9'"),
                 invalid(too_long, quoted_shortened(too_long))});
}

TEST_CASE("KV keys for write", "[names]") {
  const Validate validate = [](std::string_view k) {
    ship::validate_kv_key(k, ship::KeyUse::write);
  };
  const IsValid is_valid = [](std::string_view k) {
    return ship::is_valid_kv_key(k, ship::KeyUse::write);
  };

  check_accepts(validate, is_valid,
                {"key", "a.b.c", "a/b=c-d_e", "agents.worker-1", "_KV", "kv_x", "x_kv", "0",
                 repeat('k', ship::max_subject_length)});

  const std::string too_long = repeat('k', ship::max_subject_length + 1);
  check_rejects(
      validate, is_valid, errc::invalid_key,
      {invalid("", "''"), invalid(".a"), invalid("a."), invalid("a..b"), invalid("."),
       invalid("a b"), invalid("a*"), invalid("a.>"), invalid("*"), invalid("a:b"), invalid("a+b"),
       invalid("caf\xC3\xA9", "'caf\\xC3\\xA9'"), invalid("_kv"), invalid("_kvfoo"),
       invalid("_kv.internal"), invalid(too_long, quoted_shortened(too_long))});
}

TEST_CASE("KV keys for read", "[names]") {
  const Validate validate = [](std::string_view k) {
    ship::validate_kv_key(k, ship::KeyUse::read);
  };
  const IsValid is_valid = [](std::string_view k) {
    return ship::is_valid_kv_key(k, ship::KeyUse::read);
  };

  check_accepts(validate, is_valid, {"key", "_kv", "_kv.internal", "a/b"});
  check_rejects(validate, is_valid, errc::invalid_key,
                {invalid("", "''"), invalid("_kv."), invalid("a b"), invalid("a.*")});
}

TEST_CASE("reserved key message", "[names]") {
  try {
    ship::validate_kv_key("_kv.lock");
    FAIL("validate_kv_key accepted a reserved key by default");
  } catch (const ship::error& e) {
    CHECK(e.code() == errc::invalid_key);
    CHECK(std::string(e.what()).find("reserved") != std::string::npos);
  }
}

TEST_CASE("KV key filters", "[names]") {
  check_accepts(ship::validate_kv_key_filter, ship::is_valid_kv_key_filter,
                {">", "*", "key", "a.*", "a.>", "a.*.c", "*.>", "agents.*", "a/b=c.*", "_kv.>"});

  check_rejects(
      ship::validate_kv_key_filter, ship::is_valid_kv_key_filter, errc::invalid_key,
      {invalid("", "''"), invalid("a.>.b"), invalid(">.a"), invalid("a..b"), invalid(".a"),
       invalid("a."), invalid("a b"), invalid("a*b"), invalid("a>"), invalid("a:*")});
}

TEST_CASE("service names", "[names]") {
  check_accepts(ship::validate_service_name, ship::is_valid_service_name,
                {"svc", "my_service-1", "KanbanService"});
  check_rejects(ship::validate_service_name, ship::is_valid_service_name, errc::invalid_name,
                {invalid("", "''"), invalid("my.svc"), invalid("my svc"), invalid("svc*"),
                 invalid("svc>"), invalid("a/b")});
}

TEST_CASE("object names", "[names]") {
  check_accepts(ship::validate_object_name, ship::is_valid_object_name,
                {"file.txt", "dir/file name.txt", "a", ".", "*", ">", "caf\xC3\xA9",
                 "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF",
                 std::string("nul\0inside", 10)});

  check_rejects(ship::validate_object_name, ship::is_valid_object_name, errc::invalid_name,
                {invalid("", "''"), invalid("\xFF", "'\\xFF'"),          // never valid in UTF-8
                 invalid("\x80", "'\\x80'"),                             // stray continuation byte
                 invalid("a\xC0\xAF", "'a\\xC0\\xAF'"),                  // overlong '/'
                 invalid("\xE0\x80\xAF", "'\\xE0\\x80\\xAF'"),           // overlong 3-byte form
                 invalid("\xED\xA0\x80", "'\\xED\\xA0\\x80'"),           // UTF-16 surrogate
                 invalid("\xF4\x90\x80\x80", "'\\xF4\\x90\\x80\\x80'"),  // above U+10FFFF
                 invalid("abc\xE2\x82", "'abc\\xE2\\x82'"),              // truncated sequence
                 invalid("\xC3(", "'\\xC3('")});                         // bad continuation byte
}

TEST_CASE("agent names", "[names]") {
  check_accepts(ship::validate_agent_name, ship::is_valid_agent_name,
                {"mini", "agent-1", "worker_2", "A", repeat('a', ship::max_agent_name_length)});

  const std::string too_long = repeat('a', ship::max_agent_name_length + 1);
  check_rejects(ship::validate_agent_name, ship::is_valid_agent_name, errc::invalid_name,
                {invalid("", "''"), invalid("agent.1"), invalid("agent 1"), invalid("agent/1"),
                 invalid("agent*"), invalid("caf\xC3\xA9", "'caf\\xC3\\xA9'"),
                 invalid(too_long, "'" + too_long + "'")});
}

TEST_CASE("channel names", "[names]") {
  check_accepts(ship::validate_channel_name, ship::is_valid_channel_name,
                {"dev", "general", "team-a_1", repeat('c', ship::max_channel_name_length)});

  const std::string too_long = repeat('c', ship::max_channel_name_length + 1);
  check_rejects(ship::validate_channel_name, ship::is_valid_channel_name, errc::invalid_name,
                {invalid("", "''"), invalid("dev.ops"), invalid("dev ops"), invalid(">"),
                 invalid("*"), invalid(too_long, "'" + too_long + "'")});
}

TEST_CASE("channel error lists allowed characters", "[names]") {
  try {
    ship::validate_channel_name("dev.ops");
    FAIL("validate_channel_name accepted a dot");
  } catch (const ship::error& e) {
    const std::string message = e.what();
    CHECK(message.find("invalid channel name: 'dev.ops'") != std::string::npos);
    CHECK(message.find("letters, digits, '_' and '-'") != std::string::npos);
  }
}

TEST_CASE("agent and channel fit consumer name", "[names]") {
  const std::string consumer =
      repeat('a', ship::max_agent_name_length) + "_" + repeat('c', ship::max_channel_name_length);
  CHECK(ship::is_valid_consumer_name(consumer));
}

TEST_CASE("invalid input is an invalid_input condition", "[names]") {
  try {
    ship::validate_bucket_name("a.b");
    FAIL("validate_bucket_name accepted a dot");
  } catch (const ship::error& e) {
    CHECK(e.code() == ship::condition::invalid_input);
  }
}

namespace {

// The subject rules written out plainly, as the reference for the validator: non-empty, at most
// max_subject_length bytes, no whitespace or control byte, no empty token, a whole-token `*` or
// `>` only for subscribe, and `>` only as the last token.
bool reference_subject_check(const std::string& subject, ship::SubjectUse use) {
  if (subject.empty() || subject.size() > ship::max_subject_length) return false;
  for (char c : subject) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  std::vector<std::string> tokens;
  std::string token;
  for (char c : subject) {
    if (c == '.') {
      tokens.push_back(token);
      token.clear();
    } else {
      token += c;
    }
  }
  tokens.push_back(token);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) return false;
    const bool wildcard = tokens[i] == "*" || tokens[i] == ">";
    if (wildcard && use == ship::SubjectUse::publish) return false;
    if (tokens[i] == ">" && i + 1 != tokens.size()) return false;
  }
  return true;
}

// Every string of up to `max_length` bytes over `alphabet`.
std::vector<std::string> all_strings(const std::string& alphabet, std::size_t max_length) {
  std::vector<std::string> result = {""};
  std::size_t level_start = 0;
  for (std::size_t length = 1; length <= max_length; ++length) {
    const std::size_t level_end = result.size();
    for (std::size_t i = level_start; i < level_end; ++i) {
      for (char c : alphabet) result.push_back(result[i] + c);
    }
    level_start = level_end;
  }
  return result;
}

}  // namespace

TEST_CASE("subject check matches the rules for every short string", "[names]") {
  // is_valid_subject() checks in one pass and validate_subject() describes the problem with a
  // second implementation; both must agree with the rules on every input.
  const std::vector<std::string> subjects = all_strings("a.*> \x01", 5);
  for (const auto use : {ship::SubjectUse::publish, ship::SubjectUse::subscribe}) {
    std::vector<std::string> disagreements;
    for (const auto& subject : subjects) {
      const bool expected = reference_subject_check(subject, use);
      const bool checked = ship::is_valid_subject(subject, use);
      bool threw = false;
      try {
        ship::validate_subject(subject, use);
      } catch (const ship::error& e) {
        threw = e.code() == errc::invalid_subject;
      }
      if (checked != expected || threw == expected) disagreements.push_back("'" + subject + "'");
    }
    INFO("use " << (use == ship::SubjectUse::publish ? "publish" : "subscribe") << ", " << disagreements.size()
                << " disagreements, first: " << (disagreements.empty() ? "-" : disagreements.front()));
    CHECK(disagreements.empty());
  }
}

TEST_CASE("valid names are checked without allocating", "[names]") {
  const std::string subject = "ship.channel.dev";
  const std::string wildcard = "ship.*.dev.>";
  const std::string key = "agents.worker-1";
  const std::string stream = "KV_config";
  std::size_t allocations = 0;
  {
    AllocationCounter counter;
    ship::validate_subject(subject, ship::SubjectUse::publish);
    ship::validate_subject(wildcard, ship::SubjectUse::subscribe);
    const bool valid = ship::is_valid_subject(subject, ship::SubjectUse::publish);
    ship::validate_kv_key(key, ship::KeyUse::write);
    ship::validate_kv_key(key, ship::KeyUse::read);
    ship::validate_stream_name(stream);
    ship::validate_bucket_name("config");
    allocations = counter.count();
    CHECK(valid);
  }
  CHECK(allocations == 0);

  // The counter does count: the error of an invalid subject allocates its message.
  std::size_t rejected_allocations = 0;
  {
    AllocationCounter counter;
    const bool rejected = !ship::is_valid_subject("a..b", ship::SubjectUse::publish);
    CHECK_THROWS_AS(ship::validate_subject("a..b", ship::SubjectUse::publish), ship::error);
    rejected_allocations = counter.count();
    CHECK(rejected);
  }
  CHECK(rejected_allocations > 0);
}
