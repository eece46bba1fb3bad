#include "convert.h"

namespace distml {

Napi::TypedArray typedArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray()) {
    throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", std::string(what) + " must be a typed array");
  }
  return info[i].As<Napi::TypedArray>();
}

at::Tensor floatBlob(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::TypedArray a = typedArg(info, i, what);
  if (a.TypedArrayType() != napi_float32_array) {
    throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", std::string(what) + " must be a Float32Array");
  }
  auto f = a.As<Napi::Float32Array>();
  return at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::kFloat);
}

at::Tensor labelBlob(const Napi::CallbackInfo& info, size_t i) {
  Napi::TypedArray a = typedArg(info, i, "labels");
  const auto n = static_cast<int64_t>(a.ElementLength());
  if (a.TypedArrayType() == napi_int32_array) return at::from_blob(a.As<Napi::Int32Array>().Data(), {n}, at::kInt);
  if (a.TypedArrayType() == napi_uint8_array) return at::from_blob(a.As<Napi::Uint8Array>().Data(), {n}, at::kByte);
  throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", "labels must be an Int32Array or Uint8Array");
}

double numberField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw codedTypeError(o.Env(), "ENGINE_NATIVE", std::string("field '") + key + "' is not a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::vector<int64_t> intsField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  std::vector<int64_t> out;
  if (!v.IsArray()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(arr.Get(i).As<Napi::Number>().Int64Value());
  return out;
}

Act parseAct(const std::string& s) {
  if (s == "relu") return Act::Relu;
  if (s == "sigmoid") return Act::Sigmoid;
  if (s == "tanh") return Act::Tanh;
  if (s == "softmax") return Act::Softmax;
  if (s == "linear") return Act::Linear;
  throw InputError("unknown activation '" + s + "'");
}

Kind parseKind(const std::string& s) {
  if (s == "conv2d") return Kind::Conv2d;
  if (s == "maxPooling2d") return Kind::MaxPool2d;
  if (s == "dense") return Kind::Dense;
  if (s == "dropout") return Kind::Dropout;
  if (s == "batchNormalization") return Kind::BatchNorm;
  if (s == "flatten") return Kind::Flatten;
  if (s == "activation") return Kind::Activation;
  throw InputError("unknown layer type '" + s + "'");
}

// Reads the lowered layer list produced by src/engine/shapes.ts (lowerSpec).
NetDef parseNetDef(const Napi::Object& o) {
  NetDef def;
  def.inputShape = intsField(o, "inputShape");
  def.logitsOutput = o.Get("logitsOutput").ToBoolean();
  auto layers = o.Get("layers").As<Napi::Array>();
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    auto l = layers.Get(i).As<Napi::Object>();
    LayerDef d;
    d.kind = parseKind(l.Get("type").ToString());
    d.name = l.Get("name").ToString().Utf8Value();
    d.act = parseAct(l.Get("activation").ToString());
    d.in = static_cast<int64_t>(numberField(l, "in"));
    d.out = static_cast<int64_t>(numberField(l, "out"));
    auto k = intsField(l, "kernel"), s = intsField(l, "strides"), p = intsField(l, "padding");
    if (k.size() == 2) d.kh = k[0], d.kw = k[1];
    if (s.size() == 2) d.sh = s[0], d.sw = s[1];
    if (p.size() == 4) d.padTop = p[0], d.padBottom = p[1], d.padLeft = p[2], d.padRight = p[3];
    d.rate = numberField(l, "rate");
    d.momentum = numberField(l, "momentum");
    d.epsilon = numberField(l, "epsilon");
    def.layers.push_back(d);
  }
  return def;
}

Napi::Object stepResult(Napi::Env env, const StepResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("correct", static_cast<double>(r.correct));
  o.Set("count", static_cast<double>(r.count));
  return o;
}

Napi::Array shapeArray(Napi::Env env, at::IntArrayRef sizes) {
  auto a = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(sizes[i]));
  return a;
}

// [{name, data: Float32Array}] -> named tensors viewing the JS memory (the job keeps the arrays alive).
std::vector<NamedTensor> namedBlobs(const Napi::CallbackInfo& info, AsyncTask* job) {
  if (!info[0].IsArray()) throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", "tensors must be an array");
  auto arr = info[0].As<Napi::Array>();
  std::vector<NamedTensor> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    auto o = arr.Get(i).As<Napi::Object>();
    Napi::Value data = o.Get("data");
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw codedTypeError(info.Env(), "ENGINE_BAD_INPUT", "tensor data must be a Float32Array");
    }
    auto f = data.As<Napi::Float32Array>();
    job->keep(f);
    out.push_back({o.Get("name").ToString().Utf8Value(),
                   at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::kFloat)});
  }
  return out;
}

}  // namespace distml
