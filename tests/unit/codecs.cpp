// Base64 in both alphabets, SHA-256 and the object store digest format, and NUID generation.
#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/nuid.hpp>
#include <noesis/ship/detail/sha256.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

using namespace noesis::ship::detail;

namespace {

// Every byte value once, so both alphabets' last two digits appear in the encodings.
std::string all_byte_values() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

}  // namespace

TEST_CASE("base64url padded vectors", "[base64]") {
  CHECK(base64url_encode(std::string_view("")) == "");
  CHECK(base64url_encode(std::string_view("a")) == "YQ==");
  CHECK(base64url_encode(std::string_view("ab")) == "YWI=");
  CHECK(base64url_encode(std::string_view("abc")) == "YWJj");
  CHECK(base64url_encode(std::string_view("dir/file name.txt")) == "ZGlyL2ZpbGUgbmFtZS50eHQ=");
  // 0xFB 0xFF encodes to the digits 62 and 63, which differ between the alphabets.
  CHECK(base64url_encode(std::string_view("\xFB\xFF")) == "-_8=");
  CHECK(base64_encode(std::string_view("\xFB\xFF")) == "+/8=");
}

TEST_CASE("base64 byte span overload", "[base64]") {
  const std::vector<std::byte> bytes = {std::byte{'a'}, std::byte{'b'}};
  CHECK(base64url_encode(bytes) == "YWI=");
  CHECK(base64_encode(bytes) == "YWI=");
}

TEST_CASE("base64url decodes padded and unpadded", "[base64]") {
  CHECK(base64url_decode("YQ==") == std::optional<std::string>("a"));
  CHECK(base64url_decode("YQ") == std::optional<std::string>("a"));
  CHECK(base64url_decode("YWI=") == std::optional<std::string>("ab"));
  CHECK(base64url_decode("YWI") == std::optional<std::string>("ab"));
  CHECK(base64url_decode("ZGlyL2ZpbGUgbmFtZS50eHQ=") ==
        std::optional<std::string>("dir/file name.txt"));
  CHECK(base64url_decode("") == std::optional<std::string>(""));
  CHECK(base64url_decode("-_8=") == std::optional<std::string>("\xFB\xFF"));
}

TEST_CASE("base64 standard decodes", "[base64]") {
  CHECK(base64_decode("aGVsbG8gd29ybGQ=") == std::optional<std::string>("hello world"));
  CHECK(base64_decode("+/8=") == std::optional<std::string>("\xFB\xFF"));
  CHECK(base64_decode("") == std::optional<std::string>(""));
}

TEST_CASE("base64 round trip all bytes", "[base64]") {
  const std::string bytes = all_byte_values();
  for (std::size_t length = 0; length <= bytes.size(); length += 1) {
    const std::string_view input = std::string_view(bytes).substr(0, length);
    INFO("length " << length);
    CHECK(base64url_decode(base64url_encode(input)) == std::optional<std::string>(input));
    CHECK(base64_decode(base64_encode(input)) == std::optional<std::string>(input));
  }
}

TEST_CASE("base64 rejects invalid input", "[base64]") {
  const std::vector<std::string> invalid_for_both = {
      "Y",         // one digit encodes no whole byte
      "YQ=",       // padding that does not complete a group of four
      "YQ===",     // too much padding
      "Y===",      // three padding characters
      "=",         // padding alone
      "YWJj=",     // padding after a complete group
      "YQ==YQ==",  // padding in the middle
      "YW I=",     // space
      "YWI=\n",    // line break
      "YW*=",      // outside both alphabets
      "YR==",      // unused bits set: 'R' leaves 0b0001 in the last digit
      "YWJ=",      // unused bits set in a two-byte tail
  };
  for (const auto& text : invalid_for_both) {
    INFO("input '" << text << "'");
    CHECK_FALSE(base64url_decode(text).has_value());
    CHECK_FALSE(base64_decode(text).has_value());
  }

  CHECK_FALSE(base64url_decode("+/8=").has_value());  // standard digits in the URL alphabet
  CHECK_FALSE(base64_decode("-_8=").has_value());     // URL digits in the standard alphabet
  CHECK_FALSE(base64_decode("YQ").has_value());       // the standard decoder requires padding
}

TEST_CASE("nats digest vectors", "[sha256]") {
  CHECK(nats_digest(std::string_view("hello world")) ==
        "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=");
  CHECK(nats_digest(std::string_view("")) ==
        "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");

  const std::vector<std::byte> empty;
  CHECK(nats_digest(empty) == "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST_CASE("sha256 hex vectors", "[sha256]") {
  Sha256 sha;
  sha.update(std::string_view("abc"));
  CHECK(to_hex(sha.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  // finish() starts a new digest, so the same object hashes the empty input next.
  CHECK(to_hex(sha.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("sha256 incremental equals one-shot", "[sha256]") {
  std::mt19937 random(20240613);
  std::string content(100'000, '\0');
  std::uniform_int_distribution<int> byte_value(0, 255);
  for (auto& c : content) c = static_cast<char>(byte_value(random));

  const std::string expected = nats_digest(content);

  for (int round = 0; round < 50; ++round) {
    std::uniform_int_distribution<std::size_t> cut(0, content.size());
    std::vector<std::size_t> cuts = {0,           content.size(), cut(random),
                                     cut(random), cut(random),    cut(random)};
    std::sort(cuts.begin(), cuts.end());

    Sha256 sha;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      const std::string_view piece =
          std::string_view(content).substr(cuts[i], cuts[i + 1] - cuts[i]);
      if (i % 2 == 0) {
        sha.update(piece);
      } else {
        sha.update(std::as_bytes(std::span(piece.data(), piece.size())));
      }
    }
    INFO("round " << round);
    CHECK(format_nats_digest(sha.finish()) == expected);
  }
}

TEST_CASE("sha256 is movable", "[sha256]") {
  Sha256 first;
  first.update(std::string_view("hello "));
  Sha256 second = std::move(first);
  second.update(std::string_view("world"));
  CHECK(format_nats_digest(second.finish()) ==
        "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=");
}

TEST_CASE("nuid length and alphabet", "[nuid]") {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = next_nuid();
    REQUIRE(id.size() == nuid_length);
    REQUIRE(id.find_first_not_of(nuid_alphabet) == std::string::npos);
  }
  CHECK(nuid_length == 22);
  CHECK(nuid_alphabet.size() == 62);
}

TEST_CASE("nuid 100000 unique", "[nuid]") {
  Nuid generator;
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) seen.insert(generator.next());
  CHECK(seen.size() == 100'000);
}

TEST_CASE("nuid sequence grows after prefix", "[nuid]") {
  // Consecutive ids of one generator share the 12-character prefix unless the sequence wrapped,
  // which happens at most once in a few calls.
  Nuid generator;
  const std::string first = generator.next();
  const std::string second = generator.next();
  const std::string third = generator.next();
  const bool same_prefix_12 =
      first.substr(0, nuid_prefix_length) == second.substr(0, nuid_prefix_length);
  const bool same_prefix_23 =
      second.substr(0, nuid_prefix_length) == third.substr(0, nuid_prefix_length);
  CHECK((same_prefix_12 || same_prefix_23));
  if (same_prefix_12) CHECK(second > first);
}

TEST_CASE("nuid generators differ", "[nuid]") {
  Nuid a;
  Nuid b;
  CHECK(a.next().substr(0, nuid_prefix_length) != b.next().substr(0, nuid_prefix_length));
}

TEST_CASE("nuid thread safety", "[nuid]") {
  constexpr int thread_count = 4;
  constexpr int ids_per_thread = 25'000;

  std::vector<std::vector<std::string>> results(thread_count);
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&results, t] {
      results[t].reserve(ids_per_thread);
      for (int i = 0; i < ids_per_thread; ++i) results[t].push_back(next_nuid());
    });
  }
  for (auto& thread : threads) thread.join();

  std::unordered_set<std::string> seen;
  for (const auto& ids : results) {
    for (const auto& id : ids) {
      REQUIRE(id.size() == nuid_length);
      seen.insert(id);
    }
  }
  CHECK(seen.size() == static_cast<std::size_t>(thread_count * ids_per_thread));
}
