#include "convert.h"

#include <initializer_list>
#include <string>
#include <utility>

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

namespace {

// The value a lowered spec's name stands for; an unknown name is the caller's mistake (ENGINE_BAD_INPUT).
template <typename E>
E named(std::initializer_list<std::pair<const char*, E>> names, const std::string& s, const char* what) {
  for (const auto& [name, value] : names)
    if (s == name) return value;
  throw InputError("unknown " + std::string(what) + " '" + s + "'");
}

Act parseAct(const std::string& s) {
  return named<Act>({{"relu", Act::Relu}, {"sigmoid", Act::Sigmoid}, {"tanh", Act::Tanh}, {"softmax", Act::Softmax},
                     {"linear", Act::Linear}},
                    s, "activation");
}

Kind parseKind(const std::string& s) {
  return named<Kind>({{"conv2d", Kind::Conv2d}, {"maxPooling2d", Kind::MaxPool2d}, {"dense", Kind::Dense},
                      {"dropout", Kind::Dropout}, {"batchNormalization", Kind::BatchNorm}, {"flatten", Kind::Flatten},
                      {"activation", Kind::Activation}},
                     s, "layer type");
}

}  // namespace

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
