// How a C++ failure crosses to JavaScript: as a message that starts with a distml error code
// ("ENGINE_BAD_INPUT: ...", "COMM_STORE: ...") which src/engine/errors.ts maps back to EngineError.
// No N-API here: net.cc throws InputError, async.h turns whatever was thrown into the coded message.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace distml {

// A caller mistake (bad shapes, unknown names): reported as ENGINE_BAD_INPUT rather than ENGINE_NATIVE.
struct InputError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The exception being handled as "<code>: <message>" (c10's without its backtrace); an InputError is
// ENGINE_BAD_INPUT whatever `code` says. Call only inside a catch block.
inline std::string describeCurrentException(const char* code) {
  try {
    throw;
  } catch (const InputError& e) {
    return std::string("ENGINE_BAD_INPUT: ") + e.what();
  } catch (const c10::Error& e) {
    return std::string(code) + ": " + e.what_without_backtrace();
  } catch (const std::exception& e) {
    return std::string(code) + ": " + e.what();
  } catch (...) {
    return std::string(code) + ": unknown C++ exception";
  }
}

}  // namespace distml
