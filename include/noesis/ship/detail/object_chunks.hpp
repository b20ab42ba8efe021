// Sans-I/O pieces of object store content: cutting a stream of bytes into chunks while hashing
// it, and checking chunks read back against the object info's size and digest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <noesis/ship/detail/sha256.hpp>

namespace noesis::ship::detail {

// Cuts content that arrives in pieces of any size into chunks of exactly `chunk_size` bytes,
// the last one shorter, and hashes it on the way. It buffers less than one chunk between calls
// besides the pieces not yet taken, so a writer that takes every ready chunk before appending
// the next piece keeps at most about one chunk plus one piece in memory.
//
//   ObjectChunker chunker(128 * 1024);
//   chunker.append(piece);
//   while (auto chunk = chunker.next_chunk()) publish(*chunk);
//   ...
//   if (auto last = chunker.finish()) publish(*last);
class ObjectChunker {
 public:
  // Throws noesis::ship::error(errc::invalid_argument) for a chunk size of 0.
  explicit ObjectChunker(std::size_t chunk_size);

  // Adds content. Throws std::logic_error after finish().
  void append(std::string_view piece);

  // Returns the next full chunk, or nullopt while fewer than chunk_size bytes are buffered.
  std::optional<std::string> next_chunk();

  // Ends the content: returns the remaining bytes as the last chunk, or nullopt when none remain
  // (so empty content has 0 chunks). Call next_chunk() until it returns nullopt first.
  std::optional<std::string> finish();

  std::size_t chunk_size() const noexcept { return chunk_size_; }
  // Bytes appended so far.
  std::uint64_t size() const noexcept { return size_; }
  // Chunks returned so far.
  std::uint32_t chunks() const noexcept { return chunks_; }
  // The SHA-256 of all content; valid after finish().
  const Sha256Digest& digest() const noexcept { return digest_; }

 private:
  std::size_t chunk_size_;
  std::string buffer_;
  Sha256 sha_;
  Sha256Digest digest_{};
  std::uint64_t size_ = 0;
  std::uint32_t chunks_ = 0;
  bool finished_ = false;
};

// Checks the chunks of one object version against the size and digest its info records.
// update() fails as soon as more bytes than the recorded size arrive, so a reader never holds or
// writes more than the info announced.
class ObjectVerifier {
 public:
  // `context` names the object in error messages, for example "object 'a.txt' in bucket 'B'".
  ObjectVerifier(std::uint64_t expected_size, std::string expected_digest, std::string context);

  // Feeds one chunk. Throws noesis::ship::error(errc::size_mismatch) when the content grows past
  // the expected size.
  void update(std::string_view chunk);

  // Checks the whole content: errc::size_mismatch when fewer bytes arrived than expected,
  // errc::digest_mismatch when the SHA-256 differs or the expected digest is not a
  // "SHA-256=<padded base64url>" value.
  void finish();

  std::uint64_t received() const noexcept { return received_; }

 private:
  std::uint64_t expected_size_;
  std::string expected_digest_;
  std::string context_;
  Sha256 sha_;
  std::uint64_t received_ = 0;
};

}  // namespace noesis::ship::detail
