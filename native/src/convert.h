// Values across the N-API boundary for addon.cc: typed arrays viewed as tensors (no copy), the lowered
// model definition from src/engine/shapes.ts, and results as JS objects. Bad arguments throw TypeErrors
// coded ENGINE_BAD_INPUT (async.h).
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "async.h"
#include "net.h"

namespace distml {

// Argument `i` as a typed array; `what` names it in the error.
Napi::TypedArray typedArg(const Napi::CallbackInfo& info, size_t i, const char* what);
// Argument `i`, a Float32Array, as a 1-D tensor viewing its memory.
at::Tensor floatBlob(const Napi::CallbackInfo& info, size_t i, const char* what);
// Argument `i`, an Int32Array or Uint8Array of labels, as a tensor viewing its memory.
at::Tensor labelBlob(const Napi::CallbackInfo& info, size_t i);
double numberField(const Napi::Object& o, const char* key);
// Reads the lowered layer list produced by src/engine/shapes.ts (lowerSpec).
NetDef parseNetDef(const Napi::Object& o);
Napi::Object stepResult(Napi::Env env, const StepResult& r);
Napi::Array shapeArray(Napi::Env env, at::IntArrayRef sizes);
// [{name, data: Float32Array}] (argument 0) -> named tensors viewing the JS memory; `job` keeps the arrays alive.
std::vector<NamedTensor> namedBlobs(const Napi::CallbackInfo& info, AsyncTask* job);

}  // namespace distml
