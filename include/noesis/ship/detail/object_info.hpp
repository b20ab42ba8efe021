// Sans-I/O pieces of the NATS object store (ADR-20): the object info JSON stored on the meta
// subject, the bucket's stream and subjects, and the names they encode. Nothing here touches the
// network, so every format is unit-tested without a server.
//
// A bucket `B` is the stream `OBJ_B` on `$O.B.C.>` (chunks) and `$O.B.M.>` (object infos). An
// object named `N` has its info on `$O.B.M.<N in padded base64url>`, rolled up so only the newest
// info stays, and its content on `$O.B.C.<nuid>`, a fresh NUID for each version.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <noesis/ship/detail/jetstream_api.hpp>

namespace noesis::ship::detail {

// Chunk size the NATS clients use by default, in bytes.
inline constexpr std::uint32_t default_object_chunk_size = 128 * 1024;

// A link to another object or a whole bucket, as the options of an object info carry it.
// This library reads links but does not follow or create them.
struct ObjectLink {
  std::string bucket;
  std::string name;  // empty: a link to the whole bucket

  friend bool operator==(const ObjectLink&, const ObjectLink&) = default;
};

// The object info the NATS object store keeps for each object: ADR-20's ObjectMeta and
// ObjectInfo in one struct. JSON, in this key order, with empty fields left out as the Go
// client writes them (name, bucket, nuid, size and chunks are always written):
//   {"name":"a.txt","description":"...","headers":{"Key":["v1","v2"]},"metadata":{"k":"v"},
//    "options":{"link":{"bucket":"B","name":"x"},"max_chunk_size":131072},
//    "bucket":"B","nuid":"...","size":11,"chunks":1,"digest":"SHA-256=...","deleted":true}
struct ObjectInfo {
  std::string name;
  std::string description;
  Headers headers;  // grouped by name in the JSON; the order of names and values is kept
  std::map<std::string, std::string> metadata;
  std::optional<ObjectLink> link;
  std::uint32_t max_chunk_size = 0;  // bytes; 0 when the writer did not record it

  std::string bucket;
  std::string nuid;         // chunk subject token of this version
  std::uint64_t size = 0;   // bytes
  std::uint32_t chunks = 0;
  std::string digest;       // "SHA-256=" and the padded base64url SHA-256 of the content
  bool deleted = false;

  // Time the server stored the info message. Never part of the JSON: ADR-20 takes it from the
  // message, and a writer's own "mtime" member is ignored when decoding.
  std::chrono::system_clock::time_point mtime;

  friend bool operator==(const ObjectInfo&, const ObjectInfo&) = default;
};

// Encodes `info` as the JSON stored on the meta subject.
std::string encode_object_info(const ObjectInfo& info);

// Decodes a stored object info, ignoring unknown members such as nats.js's "mtime". Header values
// may be arrays of strings (the Go and JavaScript clients) or single strings. Throws
// noesis::ship::error(errc::serialization) naming `context` when the JSON is malformed or lacks
// "name".
ObjectInfo decode_object_info(std::string_view json, std::string_view context);

// Stream name of bucket `bucket`: "OBJ_<bucket>".
std::string object_stream_name(std::string_view bucket);

// "$O.<bucket>.C.>" and "$O.<bucket>.M.>", the two subjects of the bucket's stream.
std::string object_chunks_filter(std::string_view bucket);
std::string object_meta_filter(std::string_view bucket);

// "$O.<bucket>.C.<nuid>": where the chunks of one object version are stored.
std::string object_chunk_subject(std::string_view bucket, std::string_view nuid);

// "$O.<bucket>.M.<name in padded base64url>": where the info of object `name` is stored.
// Name "dir/file name.txt" in bucket "O" gives "$O.O.M.ZGlyL2ZpbGUgbmFtZS50eHQ=".
std::string object_meta_subject(std::string_view bucket, std::string_view name);

// The stream configuration of a bucket. `ttl` 0 keeps objects forever; `max_bytes` -1 is
// unlimited. Chunks are not limited in number, discard is "new", and rollup headers and direct
// gets are allowed, as ADR-20 specifies.
StreamConfig object_stream_config(std::string_view bucket, std::string_view description, std::chrono::seconds ttl,
                                  std::int64_t max_bytes, StorageType storage, int replicas);

}  // namespace noesis::ship::detail
