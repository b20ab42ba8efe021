// Checks of the credential files that NatsConfig names (credentials_file, nkey_seed_file).
//
// Connection::connect() runs them before anything is sent, so a missing or malformed file fails
// with errc::invalid_argument and a message naming the file and what is wrong with it, instead of
// a bare cnats status. No message quotes the file's content, which contains a secret seed.
#pragma once

#include <string>

#include <noesis/ship/config.hpp>

namespace noesis::ship::detail {

// Returns the user public key ("U...") of the seed in the NKey seed file `path`. On a file that
// cannot be read or contains no valid user seed, returns an empty string and sets `problem` to a
// sentence naming the path.
std::string user_public_key_from_seed_file(const std::string& path, std::string& problem);

// Returns a sentence naming `path` when the .creds file cannot be read, contains no user JWT (a word
// of three base64url parts separated by dots, the first starting with "eyJ") or no valid user
// seed; an empty string when it looks usable. The server still checks the JWT's signatures.
std::string credentials_file_problem(const std::string& path);

// Returns the problem of the first unusable credential file that `config` names, or an empty
// string.
std::string credential_files_problem(const NatsConfig& config);

}  // namespace noesis::ship::detail
