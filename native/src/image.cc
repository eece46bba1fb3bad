// JPEG decoding for the model server, with libjpeg-turbo: the book's requests carry a JPEG per example, and
// decoding it in JavaScript was the largest cost of a request. Decoding straight to one channel is what
// TensorFlow's decode_jpeg(channels=1) does (libjpeg's own YCbCr -> grayscale), so served inputs match the
// book's serving signature. Small images take microseconds, but a request may carry large ones (a 4096x4096
// JPEG takes ~0.1 s), so decodeJpegGrayAsync runs on the libuv pool and the event loop keeps answering.
#include "image.h"
#include "async.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <jpeglib.h>

namespace distml {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Corrupt-data warnings (a truncated scan, bad Huffman codes) are errors here: libjpeg would otherwise fill
// the damaged part with grey and the model would answer for an image nobody sent. Trace messages are ignored.
void onMessage(j_common_ptr cinfo, int level) {
  if (level < 0) onError(cinfo);
}

struct Decoded {
  int width = 0;
  int height = 0;
  std::string error;
};

// No C++ object with a destructor is created between setjmp and the end of the function: a longjmp must not
// skip one. `pixels` is sized by a callback before any scanline is read.
template <typename Alloc>
Decoded decodeGray(const unsigned char* data, size_t size, int maxSide, double maxPixels, Alloc alloc) {
  Decoded out;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = onError;
  err.pub.emit_message = onMessage;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    out.error = err.message;
    jpeg_destroy_decompress(&cinfo);
    return out;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int w = static_cast<int>(cinfo.image_width);
  const int h = static_cast<int>(cinfo.image_height);
  if (w < 1 || h < 1 || w > maxSide || h > maxSide || static_cast<double>(w) * h > maxPixels) {
    out.width = w;
    out.height = h;
    out.error = "size";
    jpeg_destroy_decompress(&cinfo);
    return out;
  }
  cinfo.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress(&cinfo);
  unsigned char* pixels = alloc(static_cast<size_t>(w) * h);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + static_cast<size_t>(cinfo.output_scanline) * w;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out.width = w;
  out.height = h;
  return out;
}

// The JS answer: {width, height, pixels} | {width, height, error: "size"} | {error: "<libjpeg message>"};
// `pixels` is asked for only when the decode succeeded.
template <typename Pixels>
Napi::Object decodedObject(Napi::Env env, const Decoded& d, Pixels pixels) {
  Napi::Object result = Napi::Object::New(env);
  if (d.width > 0) {
    result.Set("width", d.width);
    result.Set("height", d.height);
  }
  if (!d.error.empty()) {
    result.Set("error", d.error);
  } else {
    result.Set("pixels", pixels());
  }
  return result;
}

struct DecodeArgs {
  Napi::Uint8Array bytes;
  int maxSide;
  double maxPixels;
};

DecodeArgs decodeArgs(const Napi::CallbackInfo& info, const char* signature) {
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", signature);
  }
  return {info[0].As<Napi::Uint8Array>(), info[1].As<Napi::Number>().Int32Value(),
          info[2].As<Napi::Number>().DoubleValue()};
}

// decodeJpegGray(bytes: Uint8Array, maxSide: number, maxPixels: number) -> decodedObject, on the JS thread.
Napi::Value DecodeJpegGray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DecodeArgs a = decodeArgs(info, "decodeJpegGray(bytes: Uint8Array, maxSide, maxPixels)");
  Napi::Uint8Array pixels;
  Decoded d = decodeGray(a.bytes.Data(), a.bytes.ByteLength(), a.maxSide, a.maxPixels, [&](size_t n) {
    pixels = Napi::Uint8Array::New(env, n);
    return pixels.Data();
  });
  return decodedObject(env, d, [&] { return pixels; });
}

// decodeJpegGrayAsync(bytes, maxSide, maxPixels) -> Promise of what decodeJpegGray returns. The bytes are
// copied (the caller's buffer may be reused), decoded on the libuv pool into a vector, and handed back as a
// fresh Uint8Array.
Napi::Value DecodeJpegGrayAsync(const Napi::CallbackInfo& info) {
  DecodeArgs a = decodeArgs(info, "decodeJpegGrayAsync(bytes: Uint8Array, maxSide, maxPixels)");
  struct State {
    std::vector<unsigned char> bytes, pixels;
    Decoded decoded;
  };
  auto st = std::make_shared<State>();
  st->bytes.assign(a.bytes.Data(), a.bytes.Data() + a.bytes.ByteLength());
  auto work = [st, maxSide = a.maxSide, maxPixels = a.maxPixels] {
    st->decoded = decodeGray(st->bytes.data(), st->bytes.size(), maxSide, maxPixels, [&](size_t n) {
      st->pixels.resize(n);
      return st->pixels.data();
    });
  };
  auto done = [st](Napi::Env env) -> Napi::Value {
    return decodedObject(env, st->decoded, [&] {
      auto pixels = Napi::Uint8Array::New(env, st->pixels.size());
      std::memcpy(pixels.Data(), st->pixels.data(), st->pixels.size());
      return pixels;
    });
  };
  return (new AsyncTask(info.Env(), "distml-decode", "ENGINE_NATIVE", work, done))->queue();
}

}  // namespace

void InitImage(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpegGray", Napi::Function::New(env, DecodeJpegGray));
  exports.Set("decodeJpegGrayAsync", Napi::Function::New(env, DecodeJpegGrayAsync));
}

}  // namespace distml
