#include <noesis/ship/detail/sha256.hpp>

#include <noesis/ship/detail/base64.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace noesis::ship::detail {
namespace {

[[noreturn]] void throw_openssl_error(const char* function) {
  std::string message = "SHA-256: OpenSSL ";
  message += function;
  message += " failed";
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += ": ";
    message += reason;
  }
  throw std::runtime_error(message);
}

}  // namespace

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const noexcept {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_) throw_openssl_error("EVP_MD_CTX_new");
  start();
}

void Sha256::start() {
  if (EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw_openssl_error("EVP_DigestInit_ex");
  }
}

void Sha256::update(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) != 1) {
    throw_openssl_error("EVP_DigestUpdate");
  }
}

void Sha256::update(std::string_view bytes) {
  update(std::as_bytes(std::span(bytes)));
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
    throw_openssl_error("EVP_DigestFinal_ex");
  }
  if (length != digest.size())
    throw std::runtime_error("SHA-256: OpenSSL returned a digest of unexpected length");
  start();
  return digest;
}

std::string to_hex(const Sha256Digest& digest) {
  constexpr std::string_view hex_digits = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (const unsigned char byte : digest) {
    out += hex_digits[byte >> 4];
    out += hex_digits[byte & 0x0F];
  }
  return out;
}

std::string format_nats_digest(const Sha256Digest& digest) {
  return "SHA-256=" + base64url_encode(std::as_bytes(std::span(digest)));
}

std::string nats_digest(std::span<const std::byte> bytes) {
  Sha256 sha;
  sha.update(bytes);
  return format_nats_digest(sha.finish());
}

std::string nats_digest(std::string_view bytes) {
  return nats_digest(std::as_bytes(std::span(bytes)));
}

}  // namespace noesis::ship::detail
