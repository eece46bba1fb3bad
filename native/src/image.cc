// JPEG decoding for the model server, with libjpeg-turbo: the book's requests carry a JPEG per example, and
// decoding it in JavaScript was the largest cost of a request. Decoding straight to one channel is what
// TensorFlow's decode_jpeg(channels=1) does (libjpeg's own YCbCr -> grayscale), so served inputs match the
// book's serving signature. Small images take microseconds, but a request may carry large ones (a 4096x4096
// JPEG takes ~0.1 s), so decodeJpegGrayAsync runs on the libuv pool and the event loop keeps answering.
#include "image.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
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

// decodeJpegGray(bytes: Uint8Array, maxSide: number, maxPixels: number)
//   -> {width, height, pixels: Uint8Array} | {width, height, error: "size"} | {error: "<libjpeg message>"}
Napi::Value DecodeJpegGray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "ENGINE_BAD_INPUT: decodeJpegGray(bytes: Uint8Array, maxSide, maxPixels)");
  }
  auto bytes = info[0].As<Napi::Uint8Array>();
  const int maxSide = info[1].As<Napi::Number>().Int32Value();
  const double maxPixels = info[2].As<Napi::Number>().DoubleValue();
  Napi::Uint8Array pixels;
  Decoded d = decodeGray(bytes.Data(), bytes.ByteLength(), maxSide, maxPixels, [&](size_t n) {
    pixels = Napi::Uint8Array::New(env, n);
    return pixels.Data();
  });
  Napi::Object result = Napi::Object::New(env);
  if (d.width > 0) {
    result.Set("width", d.width);
    result.Set("height", d.height);
  }
  if (!d.error.empty()) {
    result.Set("error", d.error);
  } else {
    result.Set("pixels", pixels);
  }
  return result;
}

// The async decode: the bytes are copied (the caller's buffer may be reused), decoded on the libuv pool into
// a vector, and handed back as a fresh Uint8Array.
class DecodeJob : public Napi::AsyncWorker {
 public:
  DecodeJob(Napi::Env env, const Napi::Uint8Array& bytes, int maxSide, double maxPixels)
      : Napi::AsyncWorker(env, "distml-decode"),
        deferred_(Napi::Promise::Deferred::New(env)),
        bytes_(bytes.Data(), bytes.Data() + bytes.ByteLength()),
        maxSide_(maxSide),
        maxPixels_(maxPixels) {}

  Napi::Promise queue() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  void Execute() override {
    decoded_ = decodeGray(bytes_.data(), bytes_.size(), maxSide_, maxPixels_, [this](size_t n) {
      pixels_.resize(n);
      return pixels_.data();
    });
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    if (decoded_.width > 0) {
      result.Set("width", decoded_.width);
      result.Set("height", decoded_.height);
    }
    if (!decoded_.error.empty()) {
      result.Set("error", decoded_.error);
    } else {
      auto pixels = Napi::Uint8Array::New(env, pixels_.size());
      std::memcpy(pixels.Data(), pixels_.data(), pixels_.size());
      result.Set("pixels", pixels);
    }
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<unsigned char> bytes_;
  int maxSide_;
  double maxPixels_;
  Decoded decoded_;
  std::vector<unsigned char> pixels_;
};

// decodeJpegGrayAsync(bytes, maxSide, maxPixels) -> Promise of what decodeJpegGray returns.
Napi::Value DecodeJpegGrayAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "ENGINE_BAD_INPUT: decodeJpegGrayAsync(bytes: Uint8Array, maxSide, maxPixels)");
  }
  auto* job = new DecodeJob(env, info[0].As<Napi::Uint8Array>(), info[1].As<Napi::Number>().Int32Value(),
                            info[2].As<Napi::Number>().DoubleValue());
  return job->queue();
}

}  // namespace

void InitImage(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpegGray", Napi::Function::New(env, DecodeJpegGray));
  exports.Set("decodeJpegGrayAsync", Napi::Function::New(env, DecodeJpegGrayAsync));
}

}  // namespace distml
