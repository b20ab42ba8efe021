#include <noesis/ship/detail/service_routing.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace detail = noesis::ship::detail;

TEST_CASE("command strips prefix", "[service_routing]") {
  CHECK(detail::command_from_subject("echo.cmd", "echo.cmd.echo") == "echo");
  CHECK(detail::command_from_subject("kanban.cmd", "kanban.cmd.pr.merge") == "pr.merge");
}

TEST_CASE("command of foreign subject is whole", "[service_routing]") {
  CHECK(detail::command_from_subject("echo.cmd", "other.cmd.echo") == "other.cmd.echo");
  // The prefix must end at a token boundary.
  CHECK(detail::command_from_subject("echo.cmd", "echo.cmdx.echo") == "echo.cmdx.echo");
  CHECK(detail::command_from_subject("echo.cmd", "echo.cmd") == "echo.cmd");
  CHECK(detail::command_from_subject("echo.cmd", "echo") == "echo");
}

TEST_CASE("command after bare prefix dot is empty", "[service_routing]") {
  CHECK(detail::command_from_subject("echo.cmd", "echo.cmd.").empty());
}

TEST_CASE("unknown command exact bytes", "[service_routing]") {
  CHECK(detail::unknown_command_response("nope") ==
        R"({"error":"UNKNOWN_COMMAND: nope","code":404})");
  CHECK(detail::unknown_command_response("pr.merge") ==
        R"({"error":"UNKNOWN_COMMAND: pr.merge","code":404})");
}

TEST_CASE("error response key order and escaping", "[service_routing]") {
  CHECK(detail::error_response("bad input", 400) == R"({"error":"bad input","code":400})");
  CHECK(detail::error_response("say \"hi\"\n", 500) ==
        R"({"error":"say \"hi\"\n","code":500})");
  CHECK(detail::error_response("", -1) == R"({"error":"","code":-1})");
}

TEST_CASE("error response replaces invalid UTF-8", "[service_routing]") {
  CHECK(detail::error_response("x\xffy", 400) == "{\"error\":\"x\xef\xbf\xbdy\",\"code\":400}");
}

TEST_CASE("serialize response compact", "[service_routing]") {
  const nlohmann::json value{{"message", "Hello from noesis-ship!"}};
  CHECK(detail::serialize_response(value) == R"({"message":"Hello from noesis-ship!"})");
  CHECK(detail::serialize_response(nlohmann::json(42)) == "42");
  CHECK(detail::serialize_response(nlohmann::json::array({1, "a", nullptr})) ==
        R"([1,"a",null])");
}

TEST_CASE("serialize response falls back on invalid UTF-8", "[service_routing]") {
  const nlohmann::json value{{"text", std::string{"\xc3\x28"}}};
  CHECK(detail::serialize_response(value) == "{}");
}

TEST_CASE("event subject with and without prefix", "[service_routing]") {
  CHECK(detail::event_subject("kanban.events", "card.moved") == "kanban.events.card.moved");
  CHECK(detail::event_subject("", "card.moved") == "card.moved");
}
