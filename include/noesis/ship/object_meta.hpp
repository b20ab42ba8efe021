// ObjectMeta: what an object store put returns to the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <noesis/ship/json.hpp>

namespace noesis::ship {

// The description of a stored object. The first six fields are the Rust noesis-ship's
// ObjectMeta, which the client computes itself and never stores; the last three come from the
// NATS object store's own object info. JSON, in this key order:
//   {"name": "hello.txt", "bucket": "artifacts", "size": 4, "sha256": "9f86d081...",
//    "created": "2026-03-20T04:37:32.123456789+00:00", "description": null,
//    "nuid": "...", "chunks": 1, "digest": "SHA-256=n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg="}
// description is written as null when absent. Decoding reads a missing nuid, chunks or digest
// as empty or 0, so the Rust library's JSON, which lacks them, decodes too.
struct ObjectMeta {
  std::string name;
  std::string bucket;
  std::uint64_t size = 0;  // bytes
  std::string sha256;      // lowercase hex SHA-256 of the content
  std::string created;     // RFC 3339
  std::optional<std::string> description;

  std::string nuid;         // the NATS object store's unique id for this version of the object
  std::uint32_t chunks = 0;
  std::string digest;       // `SHA-256=` and the base64url digest, as the NATS object store records it

  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

template <detail::json_document J>
void to_json(J& j, const ObjectMeta& meta) {
  j = J::object();
  j["name"] = meta.name;
  j["bucket"] = meta.bucket;
  j["size"] = meta.size;
  j["sha256"] = meta.sha256;
  j["created"] = meta.created;
  j["description"] = detail::optional_to_document<J>(meta.description);
  j["nuid"] = meta.nuid;
  j["chunks"] = meta.chunks;
  j["digest"] = meta.digest;
}

template <detail::json_document J>
void from_json(const J& j, ObjectMeta& meta) {
  meta.name = detail::read_string(j, "name");
  meta.bucket = detail::read_string(j, "bucket");
  meta.size = detail::read_unsigned<std::uint64_t>(j, "size");
  meta.sha256 = detail::read_string(j, "sha256");
  meta.created = detail::read_string(j, "created");
  meta.description = detail::read_optional_string(j, "description");

  meta.nuid = j.contains("nuid") ? detail::read_string(j, "nuid") : std::string();
  meta.chunks = j.contains("chunks") ? detail::read_unsigned<std::uint32_t>(j, "chunks") : 0;
  meta.digest = j.contains("digest") ? detail::read_string(j, "digest") : std::string();
}

}  // namespace noesis::ship
