// Image decoding for the model server (libjpeg-turbo).
#pragma once

#include <napi.h>

namespace distml {

// Adds decodeJpegGray to the addon's exports.
void InitImage(Napi::Env env, Napi::Object exports);

}  // namespace distml
