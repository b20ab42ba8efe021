// SHA-256 through OpenSSL's EVP interface, and the digest format of the NATS object store.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

// OpenSSL's EVP_MD_CTX, declared here so this header does not pull in <openssl/evp.h>.
struct evp_md_ctx_st;

namespace noesis::ship::detail {

using Sha256Digest = std::array<unsigned char, 32>;

// An incremental SHA-256: feed content with update() in any number of pieces, then finish().
// Move-only. An OpenSSL failure, such as running out of memory, throws std::runtime_error.
class Sha256 {
 public:
  Sha256();

  void update(std::span<const std::byte> bytes);
  void update(std::string_view bytes);

  // Returns the digest of everything passed to update() since construction or the previous
  // finish(), and starts a new digest.
  Sha256Digest finish();

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const noexcept;
  };

  void start();

  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

// Returns the digest's 64 lowercase hex digits.
std::string to_hex(const Sha256Digest& digest);

// Formats a digest as the object store writes it (ADR-20): "SHA-256=" followed by the
// base64url encoding with `=` padding, 52 characters in all.
std::string format_nats_digest(const Sha256Digest& digest);

// Hashes `bytes` and returns the result in the format of format_nats_digest().
std::string nats_digest(std::span<const std::byte> bytes);
std::string nats_digest(std::string_view bytes);

}  // namespace noesis::ship::detail
