// Object store content: chunking with hashing, and verification of chunks read back.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <noesis/ship/detail/object_chunks.hpp>
#include <noesis/ship/error.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;

namespace {

constexpr const char* hello_digest = "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=";
constexpr const char* empty_digest = "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=";

std::vector<std::string> chunk_all(ObjectChunker& chunker, const std::vector<std::string>& pieces) {
  std::vector<std::string> chunks;
  for (const auto& piece : pieces) {
    chunker.append(piece);
    while (auto chunk = chunker.next_chunk()) chunks.push_back(std::move(*chunk));
  }
  if (auto last = chunker.finish()) chunks.push_back(std::move(*last));
  return chunks;
}

}  // namespace

TEST_CASE("chunker hashes hello world") {
  ObjectChunker chunker(128 * 1024);
  const auto chunks = chunk_all(chunker, {"hello ", "world"});
  CHECK(chunks == std::vector<std::string>{"hello world"});
  CHECK(chunker.size() == 11);
  CHECK(chunker.chunks() == 1);
  CHECK(format_nats_digest(chunker.digest()) == hello_digest);
  CHECK(to_hex(chunker.digest()) == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}

TEST_CASE("chunker gives no chunk for empty content") {
  ObjectChunker chunker(4);
  const auto chunks = chunk_all(chunker, {});
  CHECK(chunks.empty());
  CHECK(chunker.size() == 0);
  CHECK(chunker.chunks() == 0);
  CHECK(format_nats_digest(chunker.digest()) == empty_digest);
}

TEST_CASE("chunker cuts exact chunk sizes across pieces") {
  ObjectChunker chunker(4);
  const auto chunks = chunk_all(chunker, {"ab", "cdefghi", "", "jk", "l"});
  CHECK(chunks == std::vector<std::string>{"abcd", "efgh", "ijkl"});
  CHECK(chunker.chunks() == 3);
  CHECK(chunker.size() == 12);
}

TEST_CASE("chunker leaves a short last chunk") {
  ObjectChunker chunker(4);
  const auto chunks = chunk_all(chunker, {"abcde"});
  CHECK(chunks == std::vector<std::string>{"abcd", "e"});
}

TEST_CASE("chunker rejects a zero chunk size") {
  CHECK_THROWS_AS(ObjectChunker(0), error);
}

TEST_CASE("verifier accepts matching content") {
  ObjectVerifier verifier(11, hello_digest, "object 'h'");
  verifier.update("hello");
  verifier.update(" world");
  CHECK_NOTHROW(verifier.finish());
  CHECK(verifier.received() == 11);
}

TEST_CASE("verifier accepts empty content") {
  ObjectVerifier verifier(0, empty_digest, "object 'e'");
  CHECK_NOTHROW(verifier.finish());
}

TEST_CASE("verifier accepts the standard base64 alphabet") {
  // The same digest as hello_digest with `+` and `/` in place of `-` and `_`.
  ObjectVerifier verifier(11, "SHA-256=uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=", "object 'h'");
  verifier.update("hello world");
  CHECK_NOTHROW(verifier.finish());
}

TEST_CASE("verifier reports altered content") {
  ObjectVerifier verifier(11, hello_digest, "object 'h'");
  verifier.update("hello WORLD");
  try {
    verifier.finish();
    FAIL("no exception");
  } catch (const error& e) {
    CHECK(e.code() == errc::digest_mismatch);
    CHECK(std::string(e.what()).find("object 'h'") != std::string::npos);
  }
}

TEST_CASE("verifier reports short content") {
  ObjectVerifier verifier(11, hello_digest, "object 'h'");
  verifier.update("hello");
  try {
    verifier.finish();
    FAIL("no exception");
  } catch (const error& e) {
    CHECK(e.code() == errc::size_mismatch);
  }
}

TEST_CASE("verifier stops at content beyond the recorded size") {
  ObjectVerifier verifier(4, hello_digest, "object 'h'");
  try {
    verifier.update("hello");
    FAIL("no exception");
  } catch (const error& e) {
    CHECK(e.code() == errc::size_mismatch);
  }
}

TEST_CASE("verifier rejects an unknown digest form") {
  ObjectVerifier verifier(0, "MD5=abc", "object 'm'");
  try {
    verifier.finish();
    FAIL("no exception");
  } catch (const error& e) {
    CHECK(e.code() == errc::digest_mismatch);
  }
}
