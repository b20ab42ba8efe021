#include <noesis/ship/detail/object_chunks.hpp>

#include <algorithm>
#include <stdexcept>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/error.hpp>

namespace noesis::ship::detail {

namespace {

constexpr std::string_view digest_prefix = "SHA-256=";

// Decodes the value of a "SHA-256=" digest. The URL alphabet is what ADR-20 specifies; the
// standard alphabet is accepted too, as nats.js does, for digests written by older clients.
std::optional<std::string> decode_digest(std::string_view digest) {
  if (!digest.starts_with(digest_prefix)) return std::nullopt;
  digest.remove_prefix(digest_prefix.size());
  if (auto bytes = base64url_decode(digest)) return bytes;
  return base64_decode(digest);
}

}  // namespace

ObjectChunker::ObjectChunker(std::size_t chunk_size) : chunk_size_(chunk_size) {
  if (chunk_size == 0) throw error(errc::invalid_argument, "object chunk size: 0 bytes; allowed: 1 byte or more");
  buffer_.reserve(chunk_size);
}

void ObjectChunker::append(std::string_view piece) {
  if (finished_) throw std::logic_error("ObjectChunker::append after finish");
  sha_.update(piece);
  size_ += piece.size();
  buffer_.append(piece);
}

std::optional<std::string> ObjectChunker::next_chunk() {
  if (buffer_.size() < chunk_size_) return std::nullopt;
  ++chunks_;
  if (buffer_.size() == chunk_size_) {
    std::string chunk = std::move(buffer_);
    buffer_ = std::string();
    return chunk;
  }
  std::string chunk = buffer_.substr(0, chunk_size_);
  buffer_.erase(0, chunk_size_);
  return chunk;
}

std::optional<std::string> ObjectChunker::finish() {
  if (!finished_) {
    finished_ = true;
    digest_ = sha_.finish();
  }
  if (buffer_.empty()) return std::nullopt;
  ++chunks_;
  std::string chunk = std::move(buffer_);
  buffer_ = std::string();
  return chunk;
}

ObjectVerifier::ObjectVerifier(std::uint64_t expected_size, std::string expected_digest, std::string context)
    : expected_size_(expected_size), expected_digest_(std::move(expected_digest)), context_(std::move(context)) {}

void ObjectVerifier::update(std::string_view chunk) {
  received_ += chunk.size();
  if (received_ > expected_size_) {
    throw error(errc::size_mismatch, context_ + ": received " + std::to_string(received_) +
                                         " bytes or more, but the object info records " +
                                         std::to_string(expected_size_));
  }
  sha_.update(chunk);
}

void ObjectVerifier::finish() {
  if (received_ != expected_size_) {
    throw error(errc::size_mismatch, context_ + ": received " + std::to_string(received_) +
                                         " bytes, but the object info records " + std::to_string(expected_size_));
  }
  const Sha256Digest computed = sha_.finish();
  const auto expected = decode_digest(expected_digest_);
  if (!expected) {
    throw error(errc::digest_mismatch,
                context_ + ": the object info's digest '" + expected_digest_ + "' is not SHA-256=<base64>");
  }
  if (!std::equal(expected->begin(), expected->end(), computed.begin(), computed.end(),
                  [](char a, unsigned char b) { return static_cast<unsigned char>(a) == b; })) {
    throw error(errc::digest_mismatch, context_ + ": content digest " + format_nats_digest(computed) +
                                           " differs from the recorded " + expected_digest_);
  }
}

}  // namespace noesis::ship::detail
