// Test support for NATS decentralized authentication: operator, account and user NKeys, the
// JWTs that chain them, and the .creds file a client reads. Written from the nats-io/jwt v2
// sources (claims.go, header.go, creds_utils.go) for tests only, because the library itself only
// passes a .creds file to cnats.
//
// A JWT is three base64url parts without padding, joined by dots:
//  - header  {"typ":"JWT","alg":"ed25519-nkey"};
//  - claims  {"jti":..., "iat":..., "iss":..., "name":..., "sub":..., "nats":{"type":...,
//            "version":2, ...}}, where jti is the unpadded base32 of the SHA-512/256 digest of
//            the JSON of the standard claims (iat, iss, name, sub) without jti, and iss is the
//            public key of the signer;
//  - the Ed25519 signature by the issuer's key over "<header>.<claims>".
// The operator signs itself and the account; the account signs its users.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/nkeys.hpp>

namespace noesis::ship::test {

// NKey type prefixes: the first base32 character of a public key, and the second of a seed.
enum class NKeyType : std::uint8_t {
  operator_key = 14 << 3,  // 'O'
  account = 0,             // 'A'
  user = 20 << 3,          // 'U'
};

struct NKeyPair {
  NKeyType type = NKeyType::user;
  std::array<std::uint8_t, 32> raw_seed{};  // the Ed25519 private seed
  std::string seed;                          // "SO...", "SA..." or "SU..."; a secret
  std::string public_key;                    // "O...", "A..." or "U..."
};

namespace jwt_detail {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct MdContextFree {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdContext = std::unique_ptr<EVP_MD_CTX, MdContextFree>;

constexpr std::uint8_t seed_prefix = 18 << 3;  // 'S'

// Appends the NKey checksum, CRC-16/XMODEM little-endian, to `bytes` and base32-encodes them.
inline std::string encode_with_crc(std::vector<std::uint8_t> bytes) {
  const std::uint16_t crc = detail::nkey_crc16(bytes);
  bytes.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  bytes.push_back(static_cast<std::uint8_t>(crc >> 8));
  return detail::nkey_base32_encode(bytes);
}

inline Pkey private_key(const NKeyPair& pair) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, pair.raw_seed.data(), pair.raw_seed.size()));
  if (!key) throw std::runtime_error("OpenSSL rejected an Ed25519 seed");
  return key;
}

// Base64url without padding, as JWTs use it.
inline std::string base64url_unpadded(std::string_view bytes) {
  std::string text = detail::base64url_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

// The unpadded base32 of the SHA-512/256 digest of `text`: the jti of nats-io/jwt v2.
inline std::string claims_hash(const std::string& text) {
  MdContext context(EVP_MD_CTX_new());
  std::array<std::uint8_t, 32> digest{};
  unsigned int length = 0;
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha512_256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest.data(), &length) != 1 || length != digest.size()) {
    throw std::runtime_error("OpenSSL SHA-512/256 failed");
  }
  return detail::nkey_base32_encode(digest);
}

inline std::string sign(const NKeyPair& signer, const std::string& data) {
  const Pkey key = private_key(signer);
  MdContext context(EVP_MD_CTX_new());
  std::array<unsigned char, 64> signature{};
  std::size_t length = signature.size();
  if (!context || EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), signature.data(), &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1 ||
      length != signature.size()) {
    throw std::runtime_error("OpenSSL Ed25519 signing failed");
  }
  return std::string(reinterpret_cast<const char*>(signature.data()), length);
}

}  // namespace jwt_detail

// Encodes the key pair of a 32-byte Ed25519 seed.
inline NKeyPair nkey_from_raw_seed(NKeyType type, const std::array<std::uint8_t, 32>& raw_seed) {
  NKeyPair pair;
  pair.type = type;
  pair.raw_seed = raw_seed;

  const auto prefix = static_cast<std::uint8_t>(type);
  std::vector<std::uint8_t> seed{static_cast<std::uint8_t>(jwt_detail::seed_prefix | (prefix >> 5)),
                                 static_cast<std::uint8_t>((prefix & 0x1F) << 3)};
  seed.insert(seed.end(), raw_seed.begin(), raw_seed.end());
  pair.seed = jwt_detail::encode_with_crc(std::move(seed));

  const auto key = jwt_detail::private_key(pair);
  std::array<std::uint8_t, 32> raw_public{};
  std::size_t length = raw_public.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), raw_public.data(), &length) != 1 || length != raw_public.size()) {
    throw std::runtime_error("OpenSSL could not derive an Ed25519 public key");
  }
  std::vector<std::uint8_t> public_bytes{prefix};
  public_bytes.insert(public_bytes.end(), raw_public.begin(), raw_public.end());
  pair.public_key = jwt_detail::encode_with_crc(std::move(public_bytes));
  return pair;
}

// Generates a new key pair from OpenSSL's random generator.
inline NKeyPair generate_nkey(NKeyType type) {
  std::array<std::uint8_t, 32> raw_seed{};
  if (RAND_bytes(raw_seed.data(), static_cast<int>(raw_seed.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return nkey_from_raw_seed(type, raw_seed);
}

// Encodes and signs a JWT for `subject`, issued by `issuer`. `nats` is the claim's "nats" object
// without "type" and "version", which this function sets from `claim_type` and 2.
inline std::string encode_jwt(const NKeyPair& issuer, const std::string& subject, const std::string& name,
                              const std::string& claim_type, nlohmann::json nats = nlohmann::json::object()) {
  using ordered = nlohmann::ordered_json;
  const auto issued_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  // The standard claims in the order of nats-io/jwt's ClaimsData, whose JSON the jti hashes.
  ordered claims = ordered::object();
  claims["iat"] = issued_at;
  claims["iss"] = issuer.public_key;
  claims["name"] = name;
  claims["sub"] = subject;
  const std::string jti = jwt_detail::claims_hash(claims.dump());

  ordered payload = ordered::object();
  payload["jti"] = jti;
  for (const auto& [key, value] : claims.items()) payload[key] = value;
  nats["type"] = claim_type;
  nats["version"] = 2;
  payload["nats"] = ordered::parse(nats.dump());

  const std::string header = jwt_detail::base64url_unpadded(R"({"typ":"JWT","alg":"ed25519-nkey"})");
  const std::string signed_part = header + "." + jwt_detail::base64url_unpadded(payload.dump());
  return signed_part + "." + jwt_detail::base64url_unpadded(jwt_detail::sign(issuer, signed_part));
}

// The self-signed JWT of an operator.
inline std::string operator_jwt(const NKeyPair& operator_key, const std::string& name) {
  return encode_jwt(operator_key, operator_key.public_key, name, "operator");
}

// An account JWT signed by `operator_key`, with the limits at -1 (unlimited) and JetStream off,
// as nats-io/jwt's NewAccountClaims sets them.
inline std::string account_jwt(const NKeyPair& account, const NKeyPair& operator_key, const std::string& name) {
  nlohmann::json nats = {
      {"limits",
       {{"subs", -1}, {"data", -1}, {"payload", -1}, {"imports", -1}, {"exports", -1}, {"wildcards", true},
        {"conn", -1}, {"leaf", -1}}},
      {"default_permissions", {{"pub", nlohmann::json::object()}, {"sub", nlohmann::json::object()}}}};
  return encode_jwt(operator_key, account.public_key, name, "account", std::move(nats));
}

// A user JWT signed by `account`, with the account's default permissions and the limits at -1
// (unlimited), as nats-io/jwt's NewUserClaims sets them.
inline std::string user_jwt(const NKeyPair& user, const NKeyPair& account, const std::string& name) {
  nlohmann::json nats = {{"pub", nlohmann::json::object()},
                         {"sub", nlohmann::json::object()},
                         {"subs", -1},
                         {"data", -1},
                         {"payload", -1}};
  return encode_jwt(account, user.public_key, name, "user", std::move(nats));
}

// The text of a .creds file: the user JWT and the user seed, each between marker lines.
inline std::string creds_file_text(const std::string& user_jwt_text, const NKeyPair& user) {
  return "-----BEGIN NATS USER JWT-----\n" + user_jwt_text +
         "\n------END NATS USER JWT------\n\n"
         "************************* IMPORTANT *************************\n"
         "NKEY Seed printed below can be used to sign and prove identity.\n\n"
         "-----BEGIN USER NKEY SEED-----\n" +
         user.seed + "\n------END USER NKEY SEED------\n\n";
}

}  // namespace noesis::ship::test
