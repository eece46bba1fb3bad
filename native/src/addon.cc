// N-API face of net.h: the NativeModel class and the addon's exports. Every heavy call is a Job (an
// AsyncTask from async.h) whose work runs on the compute thread (compute.h) and returns a promise. Every C++
// exception becomes a JS Error whose message starts with a distml error code ("ENGINE_BAD_INPUT: ...",
// "ENGINE_NATIVE: ...", errors.h) that src/engine/errors.ts maps to EngineError.
#include <napi.h>

#include <torch/version.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>

#include "async.h"
#include "collective.h"
#include "compute.h"
#include "convert.h"
#include "image.h"
#include "net.h"

namespace distml {
namespace {

// A model job: its work runs on the compute thread, holding the model's mutex.
class Job : public AsyncTask {
 public:
  Job(Napi::Env env, std::shared_ptr<Net> net) : AsyncTask(env, "distml", "ENGINE_NATIVE"), net_(std::move(net)) {}

  void work(std::function<void(Net&)> w) {
    AsyncTask::work([net = net_, w = std::move(w)] {
      runOnComputeThread([&] {
        std::lock_guard<std::mutex> lock(net->mutex);
        w(*net);
      });
    });
  }

 private:
  std::shared_ptr<Net> net_;
};

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
    guarded(info, "ENGINE_NATIVE", [&]() -> Napi::Value {
      if (!info[0].IsObject() || !info[1].IsNumber()) {
        throw codedTypeError(info.Env(), "ENGINE_NATIVE", "NativeModel(def, seed) expects an object and a number");
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
    return guarded(info, "ENGINE_NATIVE", [&]() -> Napi::Value {
      auto n = net(info.Env());
      std::lock_guard<std::mutex> lock(n->mutex);
      return f(*n);
    });
  }

  template <typename F>
  Napi::Value async(const Napi::CallbackInfo& info, F&& setup) {
    return guarded(info, "ENGINE_NATIVE", [&]() -> Napi::Value {
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
  distml::InitCompute(env, exports);
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  distml::InitCollective(env, exports);
  distml::InitImage(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(distml_native, Init)
