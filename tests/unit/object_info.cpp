// Object store formats (ADR-20): subjects, stream config and the object info JSON.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <noesis/ship/detail/object_info.hpp>
#include <noesis/ship/error.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;

TEST_CASE("meta subjects encode names as padded base64url") {
  CHECK(object_meta_subject("O", "a") == "$O.O.M.YQ==");
  CHECK(object_meta_subject("O", "ab") == "$O.O.M.YWI=");
  CHECK(object_meta_subject("O", "dir/file name.txt") == "$O.O.M.ZGlyL2ZpbGUgbmFtZS50eHQ=");
  // Bytes 0xfb 0xff encode to characters outside the standard alphabet's `+` and `/`.
  CHECK(object_meta_subject("B", "\xef\xbf\xbf") == "$O.B.M.77-_");
}

TEST_CASE("bucket stream name and subjects") {
  CHECK(object_stream_name("snapshots") == "OBJ_snapshots");
  CHECK(object_chunks_filter("B") == "$O.B.C.>");
  CHECK(object_meta_filter("B") == "$O.B.M.>");
  CHECK(object_chunk_subject("B", "NUID123") == "$O.B.C.NUID123");
}

TEST_CASE("bucket stream config follows ADR-20") {
  const StreamConfig config = object_stream_config("B", "docs", std::chrono::seconds(60), 1000, StorageType::memory, 1);
  CHECK(config.name == "OBJ_B");
  CHECK(config.subjects == std::vector<std::string>{"$O.B.C.>", "$O.B.M.>"});
  CHECK(config.description == "docs");
  CHECK(config.max_age == std::chrono::seconds(60));
  CHECK(config.max_msgs == -1);
  CHECK(config.max_bytes == 1000);
  CHECK(config.storage == StorageType::memory);
  CHECK(config.discard == DiscardPolicy::new_messages);
  CHECK(config.allow_rollup_hdrs);
  CHECK(config.allow_direct);
}

TEST_CASE("object info JSON omits empty fields") {
  ObjectInfo info;
  info.name = "empty";
  info.bucket = "B";
  info.nuid = "N";
  CHECK(encode_object_info(info) == R"({"name":"empty","bucket":"B","nuid":"N","size":0,"chunks":0})");
}

TEST_CASE("object info JSON writes every field in order") {
  ObjectInfo info;
  info.name = "a.txt";
  info.description = "greeting";
  info.headers = {{"Key2", "bar"}, {"Key1", "foo"}, {"Key2", "baz"}};
  info.metadata = {{"owner", "infra"}};
  info.link = ObjectLink{"other", "x"};
  info.max_chunk_size = 131072;
  info.bucket = "B";
  info.nuid = "CkuyLEX4z2hbyjj1aWCfiH";
  info.size = 11;
  info.chunks = 1;
  info.digest = "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=";
  info.deleted = true;
  CHECK(encode_object_info(info) ==
        R"({"name":"a.txt","description":"greeting","headers":{"Key2":["bar","baz"],"Key1":["foo"]},)"
        R"("metadata":{"owner":"infra"},"options":{"link":{"bucket":"other","name":"x"},"max_chunk_size":131072},)"
        R"("bucket":"B","nuid":"CkuyLEX4z2hbyjj1aWCfiH","size":11,"chunks":1,)"
        R"("digest":"SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=","deleted":true})");
}

TEST_CASE("object info JSON round trips") {
  ObjectInfo info;
  info.name = "dir/file name.txt";
  info.description = "d";
  info.headers = {{"A", "1"}, {"A", "2"}, {"B", "3"}};
  info.metadata = {{"k", "v"}};
  info.max_chunk_size = 1024;
  info.bucket = "B";
  info.nuid = "N";
  info.size = 5000;
  info.chunks = 5;
  info.digest = "SHA-256=x";
  const ObjectInfo decoded = decode_object_info(encode_object_info(info), "test");
  CHECK(decoded == info);
}

TEST_CASE("object info decodes what nats.js writes") {
  // nats.js stores mtime and an empty options.link-less options object; both are read as such.
  const char* json = R"({"name":"x","bucket":"B","nuid":"N","size":1,"chunks":1,"digest":"SHA-256=abc",)"
                     R"("mtime":"2026-03-20T04:37:32.123Z","options":{"max_chunk_size":131072},"headers":{"H":"v"}})";
  const ObjectInfo info = decode_object_info(json, "test");
  CHECK(info.name == "x");
  CHECK(info.size == 1);
  CHECK(info.max_chunk_size == 131072);
  CHECK_FALSE(info.link.has_value());
  CHECK(info.headers == Headers{{"H", "v"}});
  CHECK_FALSE(info.deleted);
  CHECK(info.mtime == std::chrono::system_clock::time_point());
}

TEST_CASE("object info decoding rejects malformed JSON") {
  for (const char* json : {"not json", "[]", R"({"bucket":"B"})", R"({"name":"x","size":"big"})",
                           R"({"name":"x","headers":[1]})"}) {
    INFO(json);
    try {
      decode_object_info(json, "object 'x'");
      FAIL("no exception");
    } catch (const error& e) {
      CHECK(e.code() == errc::serialization);
      CHECK(std::string(e.what()).find("object 'x'") != std::string::npos);
    }
  }
}
