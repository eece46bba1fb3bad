// Collective communication over c10d: TCPStore (rendezvous key-value store) and ProcessGroupGloo.
#pragma once

#include <napi.h>

namespace distml {

// Adds Store and ProcessGroup classes to the addon's exports.
void InitCollective(Napi::Env env, Napi::Object exports);

}  // namespace distml
