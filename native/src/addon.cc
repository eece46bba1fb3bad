// N-API face of net.h. Every heavy call is an AsyncWorker on the libuv pool that returns a promise.
// Every C++ exception becomes a JS Error whose message starts with a distml error code
// ("ENGINE_BAD_INPUT: ...", "ENGINE_NATIVE: ...") that src/engine/native.ts maps to EngineError.
#include <napi.h>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <thread>
#include <memory>

#include "collective.h"
#include "image.h"
#include "net.h"

namespace distml {
namespace {

std::atomic<int> g_threads{0};

// ATen's OpenMP intra-op setting is a per-thread ICV, read once per thread; a libuv worker that ran torch
// before setNumThreads would keep its old team size, so each job re-applies the requested count.
void applyThreadSetting() {
  thread_local int applied = 0;
  const int want = g_threads.load();
  if (want > 0 && want != applied) {
    at::set_num_threads(want);
    applied = want;
  }
}

// All torch work of the process runs on this one thread. libuv hands successive jobs to different pool
// threads, and each OpenMP master thread gets its own team: with teams from several pool threads spinning
// on 2 cores, training at 2 threads ran ~25% slower than PyTorch. One master keeps one team.
class ComputeThread {
 public:
  static ComputeThread& get() {
    static ComputeThread* instance = new ComputeThread();  // leaked: must outlive static destructors
    return *instance;
  }

  // Runs `task` on the compute thread and waits for it; rethrows what it threw.
  void run(const std::function<void()>& task) {
    std::packaged_task<void()> packaged(task);
    std::future<void> done = packaged.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(packaged));
    }
    ready_.notify_one();
    done.get();
  }

 private:
  ComputeThread() { std::thread([this] { loop(); }).detach(); }

  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
};

std::string describeCurrentException() {
  try {
    throw;
  } catch (const InputError& e) {
    return std::string("ENGINE_BAD_INPUT: ") + e.what();
  } catch (const c10::Error& e) {
    return std::string("ENGINE_NATIVE: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    return std::string("ENGINE_NATIVE: ") + e.what();
  } catch (...) {
    return "ENGINE_NATIVE: unknown C++ exception";
  }
}

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error::New(info.Env(), describeCurrentException());
  }
}

class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(Net&)>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  Job(Napi::Env env, std::shared_ptr<Net> net)
      : Napi::AsyncWorker(env, "distml"), deferred_(Napi::Promise::Deferred::New(env)), net_(std::move(net)) {}

  void work(Work w) { work_ = std::move(w); }
  void done(Done d) { done_ = std::move(d); }

  // Keeps a typed array alive while Execute reads or writes its memory through from_blob.
  void keep(const Napi::Value& v) { refs_.push_back(Napi::Persistent(v.As<Napi::Object>())); }
  Napi::Promise queue() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      ComputeThread::get().run([this] {
        applyThreadSetting();
        std::lock_guard<std::mutex> lock(net_->mutex);
        if (work_) work_(*net_);
      });
    } catch (...) {
      SetError(describeCurrentException());
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(done_ ? done_(Env()) : Env().Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Net> net_;
  Work work_;
  Done done_;
  std::vector<Napi::ObjectReference> refs_;
};

Napi::TypedArray typedArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), std::string("ENGINE_BAD_INPUT: ") + what + " must be a typed array");
  }
  return info[i].As<Napi::TypedArray>();
}

at::Tensor floatBlob(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::TypedArray a = typedArg(info, i, what);
  if (a.TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string("ENGINE_BAD_INPUT: ") + what + " must be a Float32Array");
  }
  auto f = a.As<Napi::Float32Array>();
  return at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::kFloat);
}

at::Tensor labelBlob(const Napi::CallbackInfo& info, size_t i) {
  Napi::TypedArray a = typedArg(info, i, "labels");
  const auto n = static_cast<int64_t>(a.ElementLength());
  if (a.TypedArrayType() == napi_int32_array) return at::from_blob(a.As<Napi::Int32Array>().Data(), {n}, at::kInt);
  if (a.TypedArrayType() == napi_uint8_array) return at::from_blob(a.As<Napi::Uint8Array>().Data(), {n}, at::kByte);
  throw Napi::TypeError::New(info.Env(), "ENGINE_BAD_INPUT: labels must be an Int32Array or Uint8Array");
}

double numberField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("ENGINE_NATIVE: field '") + key + "' is not a number");
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
std::vector<NamedTensor> namedBlobs(const Napi::CallbackInfo& info, Job* job) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "ENGINE_BAD_INPUT: tensors must be an array");
  auto arr = info[0].As<Napi::Array>();
  std::vector<NamedTensor> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    auto o = arr.Get(i).As<Napi::Object>();
    Napi::Value data = o.Get("data");
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(info.Env(), "ENGINE_BAD_INPUT: tensor data must be a Float32Array");
    }
    auto f = data.As<Napi::Float32Array>();
    job->keep(f);
    out.push_back({o.Get("name").ToString().Utf8Value(),
                   at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::kFloat)});
  }
  return out;
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {
                           InstanceMethod("trainableCount", &ModelWrap::TrainableCount),
                           InstanceMethod("stateCount", &ModelWrap::StateCount),
                           InstanceMethod("stateSpec", &ModelWrap::StateSpec),
                           InstanceMethod("setOptimizer", &ModelWrap::SetOptimizer),
                           InstanceMethod("setLearningRate", &ModelWrap::SetLearningRate),
                           InstanceMethod("manualSeed", &ModelWrap::ManualSeed),
                           InstanceMethod("trainStep", &ModelWrap::TrainStep),
                           InstanceMethod("forwardBackward", &ModelWrap::ForwardBackward),
                           InstanceMethod("getGradients", &ModelWrap::GetGradients),
                           InstanceMethod("setGradients", &ModelWrap::SetGradients),
                           InstanceMethod("applyGradients", &ModelWrap::ApplyGradients),
                           InstanceMethod("evaluate", &ModelWrap::Evaluate),
                           InstanceMethod("predict", &ModelWrap::Predict),
                           InstanceMethod("getParameters", &ModelWrap::GetParameters),
                           InstanceMethod("setParameters", &ModelWrap::SetParameters),
                           InstanceMethod("getState", &ModelWrap::GetState),
                           InstanceMethod("setState", &ModelWrap::SetState),
                           InstanceMethod("getOptimizerState", &ModelWrap::GetOptimizerState),
                           InstanceMethod("setOptimizerState", &ModelWrap::SetOptimizerState),
                           InstanceMethod("dispose", &ModelWrap::Dispose),
                       });
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    guarded(info, [&]() -> Napi::Value {
      if (!info[0].IsObject() || !info[1].IsNumber()) {
        throw Napi::TypeError::New(info.Env(), "ENGINE_NATIVE: NativeModel(def, seed) expects an object and a number");
      }
      NetDef def = parseNetDef(info[0].As<Napi::Object>());
      int64_t per = 1;
      for (auto d : def.inputShape) per *= d;
      inputSize_ = per;
      net_ = std::make_shared<Net>(std::move(def), static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()));
      return info.Env().Undefined();
    });
  }

 private:
  std::shared_ptr<Net> net(Napi::Env env) {
    if (!net_) throw Napi::Error::New(env, "ENGINE_DISPOSED: model was disposed");
    return net_;
  }

  // Sync call on the JS thread; the TypeScript queue guarantees no job of this model is running.
  template <typename F>
  Napi::Value sync(const Napi::CallbackInfo& info, F&& f) {
    return guarded(info, [&]() -> Napi::Value {
      auto n = net(info.Env());
      std::lock_guard<std::mutex> lock(n->mutex);
      return f(*n);
    });
  }

  template <typename F>
  Napi::Value async(const Napi::CallbackInfo& info, F&& setup) {
    return guarded(info, [&]() -> Napi::Value {
      auto job = new Job(info.Env(), net(info.Env()));
      try {
        setup(job);
      } catch (...) {
        delete job;
        throw;
      }
      return job->queue();
    });
  }

  at::Tensor images(const Napi::CallbackInfo& info, int64_t n) {
    at::Tensor x = floatBlob(info, 0, "images");
    if (n <= 0 || x.numel() != n * inputSize_) {
      throw InputError("images has " + std::to_string(x.numel()) + " values, expected " + std::to_string(n) + " x " +
                       std::to_string(inputSize_));
    }
    return x.view({n, inputSize_});
  }

  Napi::Value TrainableCount(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) { return Napi::Number::New(info.Env(), static_cast<double>(n.trainableCount())); });
  }
  Napi::Value StateCount(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) { return Napi::Number::New(info.Env(), static_cast<double>(n.stateCount())); });
  }
  Napi::Value StateSpec(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) -> Napi::Value {
      const auto& st = n.stateTensors();
      auto out = Napi::Array::New(info.Env(), st.size());
      for (size_t i = 0; i < st.size(); ++i) {
        auto o = Napi::Object::New(info.Env());
        o.Set("name", st[i].name);
        o.Set("shape", shapeArray(info.Env(), st[i].tensor.sizes()));
        o.Set("trainable", st[i].tensor.requires_grad());
        out.Set(static_cast<uint32_t>(i), o);
      }
      return out;
    });
  }
  Napi::Value SetOptimizer(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) {
      auto o = info[0].As<Napi::Object>();
      OptimizerDef d;
      d.type = o.Get("type").ToString().Utf8Value();
      d.learningRate = numberField(o, "learningRate");
      d.beta1 = numberField(o, "beta1");
      d.beta2 = numberField(o, "beta2");
      d.epsilon = numberField(o, "epsilon");
      d.momentum = numberField(o, "momentum");
      n.setOptimizer(d);
      return info.Env().Undefined();
    });
  }
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) {
      n.setLearningRate(info[0].ToNumber().DoubleValue());
      return info.Env().Undefined();
    });
  }
  Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
    return sync(info, [&](Net& n) {
      n.manualSeed(static_cast<uint64_t>(info[0].ToNumber().Int64Value()));
      return info.Env().Undefined();
    });
  }

  // A Float32Array allocated on the JS thread that Execute fills in place (no copy back on the JS thread).
  static std::pair<std::shared_ptr<Napi::ObjectReference>, at::Tensor> output(Napi::Env env, int64_t len) {
    auto arr = Napi::Float32Array::New(env, static_cast<size_t>(len));
    auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(arr.As<Napi::Object>()));
    return {ref, at::from_blob(arr.Data(), {len}, at::kFloat)};
  }

  Napi::Value stepJob(const Napi::CallbackInfo& info, bool apply) {
    return async(info, [&](Job* job) {
      at::Tensor labels = labelBlob(info, 1);
      at::Tensor x = images(info, labels.numel());
      job->keep(info[0]);
      job->keep(info[1]);
      auto result = std::make_shared<StepResult>();
      job->work([=](Net& n) { *result = apply ? n.trainStep(x, labels) : n.forwardBackward(x, labels); });
      job->done([=](Napi::Env env) { return stepResult(env, *result); });
    });
  }
  Napi::Value TrainStep(const Napi::CallbackInfo& info) { return stepJob(info, true); }
  Napi::Value ForwardBackward(const Napi::CallbackInfo& info) { return stepJob(info, false); }

  Napi::Value GetGradients(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto [ref, flat] = output(info.Env(), net(info.Env())->trainableCount());
      job->work([flat](Net& n) { n.gradientsInto(flat); });
      job->done([ref](Napi::Env) { return ref->Value(); });
    });
  }
  Napi::Value SetGradients(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      at::Tensor flat = floatBlob(info, 0, "gradients");
      job->keep(info[0]);
      job->work([flat](Net& n) { n.setGradients(flat); });
    });
  }
  Napi::Value ApplyGradients(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) { job->work([](Net& n) { n.applyGradients(); }); });
  }
  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto [ref, flat] = output(info.Env(), net(info.Env())->trainableCount());
      job->work([flat](Net& n) { n.parametersInto(flat); });
      job->done([ref](Napi::Env) { return ref->Value(); });
    });
  }
  Napi::Value SetParameters(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      at::Tensor flat = floatBlob(info, 0, "parameters");
      job->keep(info[0]);
      job->work([flat](Net& n) { n.setParameters(flat); });
    });
  }

  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      at::Tensor labels = labelBlob(info, 1);
      at::Tensor x = images(info, labels.numel());
      const int64_t batch = std::max<int64_t>(1, info[2].ToNumber().Int64Value());
      job->keep(info[0]);
      job->keep(info[1]);
      auto result = std::make_shared<StepResult>();
      job->work([=](Net& n) { *result = n.evaluate(x, labels, batch); });
      job->done([=](Napi::Env env) { return stepResult(env, *result); });
    });
  }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      const int64_t n = static_cast<int64_t>(typedArg(info, 0, "images").ElementLength()) / std::max<int64_t>(1, inputSize_);
      at::Tensor x = images(info, n);
      const int64_t classes = info[1].ToNumber().Int64Value();
      const int64_t batch = std::max<int64_t>(1, info[2].ToNumber().Int64Value());
      job->keep(info[0]);
      auto [ref, flat] = output(info.Env(), n * classes);
      at::Tensor out = flat.view({n, classes});
      job->work([=](Net& net) { net.predictInto(x, out, batch); });
      job->done([ref](Napi::Env) { return ref->Value(); });
    });
  }

  Napi::Value GetState(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto n = net(info.Env());
      auto refs = std::make_shared<std::vector<std::shared_ptr<Napi::ObjectReference>>>();
      std::vector<at::Tensor> dsts;
      for (const auto& s : n->stateTensors()) {
        auto [ref, flat] = output(info.Env(), s.tensor.numel());
        refs->push_back(ref);
        dsts.push_back(flat);
      }
      job->work([dsts](Net& net) {
        at::NoGradGuard guard;
        const auto& st = net.stateTensors();
        for (size_t i = 0; i < st.size(); ++i) dsts[i].copy_(st[i].tensor.reshape({-1}));
      });
      job->done([refs, n](Napi::Env env) -> Napi::Value {
        const auto& st = n->stateTensors();
        auto out = Napi::Array::New(env, st.size());
        for (size_t i = 0; i < st.size(); ++i) {
          auto o = Napi::Object::New(env);
          o.Set("name", st[i].name);
          o.Set("shape", shapeArray(env, st[i].tensor.sizes()));
          o.Set("data", (*refs)[i]->Value());
          out.Set(static_cast<uint32_t>(i), o);
        }
        return out;
      });
    });
  }
  Napi::Value SetState(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto tensors = namedBlobs(info, job);
      job->work([tensors](Net& n) { n.setState(tensors); });
    });
  }
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto result = std::make_shared<std::vector<NamedTensor>>();
      job->work([result](Net& n) { *result = n.optimizerState(); });
      job->done([result](Napi::Env env) -> Napi::Value {
        auto out = Napi::Array::New(env, result->size());
        for (size_t i = 0; i < result->size(); ++i) {
          const at::Tensor t = (*result)[i].tensor.contiguous();
          auto data = Napi::Float32Array::New(env, static_cast<size_t>(t.numel()));
          std::memcpy(data.Data(), t.data_ptr<float>(), sizeof(float) * static_cast<size_t>(t.numel()));
          auto o = Napi::Object::New(env);
          o.Set("name", (*result)[i].name);
          o.Set("shape", shapeArray(env, t.sizes()));
          o.Set("data", data);
          out.Set(static_cast<uint32_t>(i), o);
        }
        return out;
      });
    });
  }
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    return async(info, [&](Job* job) {
      auto tensors = namedBlobs(info, job);
      job->work([tensors](Net& n) { n.setOptimizerState(tensors); });
    });
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    net_.reset();  // running jobs hold their own reference
    return info.Env().Undefined();
  }

  std::shared_ptr<Net> net_;
  int64_t inputSize_ = 0;
};

}  // namespace
}  // namespace distml

namespace {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int n = static_cast<int>(info[0].ToNumber().Int32Value());
  if (n < 1) throw Napi::RangeError::New(info.Env(), "ENGINE_BAD_INPUT: threads must be a positive integer");
  distml::g_threads.store(n);
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  const int n = distml::g_threads.load();
  return Napi::Number::New(info.Env(), n > 0 ? n : at::get_num_threads());
}

// libtorch has no CPU caching allocator: every step mallocs and frees megabyte-sized activations. With
// glibc's defaults those are mmapped or trimmed back to the OS and re-faulted each step (over a million
// page faults per 200 steps of the book CNN, ~30% of the step time). Keeping freed memory in the heap
// fixes that for the whole process; peak memory is unchanged, it is just not returned early.
void tuneAllocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's maximum; larger blocks are still mmapped
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneAllocator();
  exports.Set("NativeModel", distml::ModelWrap::Define(env));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  distml::InitCollective(env, exports);
  distml::InitImage(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(distml_native, Init)
