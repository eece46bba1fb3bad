// N-API face of the rendezvous store client (store.h) and c10d's ProcessGroupGloo. Store calls and collectives block (on peers, on the
// network), so each runs as an AsyncWorker on the libuv pool — never on the compute thread, never on the
// event loop — and returns a promise. Failures (a peer gone, a timeout) reject with "COMM_*:" messages
// that src/engine/collective.ts maps to CommError; they never crash the process.
#include "collective.h"
#include "async.h"
#include "store.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace distml {
namespace {

// Store and group calls block on peers and the network: each is an AsyncTask on the libuv pool (never the
// compute thread) whose failures are coded `code`.
AsyncTask* commTask(Napi::Env env, const char* code, AsyncTask::Work work, AsyncTask::Done done) {
  return new AsyncTask(env, "distml-comm", code, std::move(work), std::move(done));
}

std::string str(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  auto v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

double num(const Napi::Object& o, const char* key, double fallback) {
  auto v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

std::chrono::milliseconds ms(double v) { return std::chrono::milliseconds(static_cast<int64_t>(v)); }

// ---------------------------------------------------------------------------------------------------------
class StoreWrap : public Napi::ObjectWrap<StoreWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    auto f = DefineClass(env, "NativeStore",
                         {StaticMethod("connect", &StoreWrap::Connect),
                          InstanceMethod("port", &StoreWrap::Port),
                          InstanceMethod("set", &StoreWrap::Set),
                          InstanceMethod("get", &StoreWrap::Get),
                          InstanceMethod("add", &StoreWrap::Add),
                          InstanceMethod("check", &StoreWrap::Check),
                          InstanceMethod("compareSet", &StoreWrap::CompareSet),
                          InstanceMethod("deleteKey", &StoreWrap::DeleteKey)});
    ctor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }

  explicit StoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StoreWrap>(info) {}

  c10::intrusive_ptr<SecretStore> store;

 private:
  // connect({host, port, secret, timeoutMs}) -> Promise<NativeStore>: a client of the job's store server
  // (src/engine/store-server.ts), authenticated with the job's secret.
  static Napi::Value Connect(const Napi::CallbackInfo& info) {
    auto o = info[0].As<Napi::Object>();
    auto host = str(o, "host", "127.0.0.1");
    auto port = static_cast<uint16_t>(num(o, "port", 0));
    auto secret = str(o, "secret");
    auto timeout = ms(num(o, "timeoutMs", 30000));
    auto holder = std::make_shared<c10::intrusive_ptr<SecretStore>>();
    auto task = commTask(
        info.Env(), "COMM_STORE",
        [host, port, secret, timeout, holder] {
          *holder = c10::make_intrusive<SecretStore>(host, port, secret, timeout);
        },
        [holder](Napi::Env env) {
          auto obj = ctor->New({});
          StoreWrap::Unwrap(obj)->store = *holder;
          return static_cast<Napi::Value>(obj);
        });
    return task->queue();
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), store->port()); }

  Napi::Value Set(const Napi::CallbackInfo& info) {
    auto s = store;
    auto key = info[0].As<Napi::String>().Utf8Value();
    auto value = info[1].As<Napi::String>().Utf8Value();
    return (commTask(
                info.Env(), "COMM_STORE", [s, key, value] { s->set(key, std::vector<uint8_t>(value.begin(), value.end())); },
                nullptr))
        ->queue();
  }

  // get(key, timeoutMs?) waits for the key to exist (up to the timeout), then returns its value.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    auto s = store;
    auto key = info[0].As<Napi::String>().Utf8Value();
    auto timeout = info.Length() > 1 && info[1].IsNumber() ? ms(info[1].As<Napi::Number>().DoubleValue())
                                                            : std::chrono::milliseconds(-1);
    auto out = std::make_shared<std::string>();
    return (commTask(
                info.Env(), "COMM_STORE",
                [s, key, timeout, out] {
                  if (timeout.count() >= 0) s->wait({key}, timeout);
                  auto v = s->get(key);
                  out->assign(v.begin(), v.end());
                },
                [out](Napi::Env env) { return Napi::String::New(env, *out); }))
        ->queue();
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    auto s = store;
    auto key = info[0].As<Napi::String>().Utf8Value();
    auto delta = info[1].As<Napi::Number>().Int64Value();
    auto out = std::make_shared<int64_t>(0);
    return (commTask(
                info.Env(), "COMM_STORE", [s, key, delta, out] { *out = s->add(key, delta); },
                [out](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(*out)); }))
        ->queue();
  }

  Napi::Value Check(const Napi::CallbackInfo& info) {
    auto s = store;
    std::vector<std::string> keys;
    auto arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) keys.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    auto out = std::make_shared<bool>(false);
    return (commTask(
                info.Env(), "COMM_STORE", [s, keys, out] { *out = s->check(keys); },
                [out](Napi::Env env) { return Napi::Boolean::New(env, *out); }))
        ->queue();
  }

  Napi::Value CompareSet(const Napi::CallbackInfo& info) {
    auto s = store;
    auto key = info[0].As<Napi::String>().Utf8Value();
    auto expected = info[1].As<Napi::String>().Utf8Value();
    auto desired = info[2].As<Napi::String>().Utf8Value();
    auto out = std::make_shared<std::string>();
    return (commTask(
                info.Env(), "COMM_STORE",
                [s, key, expected, desired, out] {
                  auto v = s->compareSet(key, std::vector<uint8_t>(expected.begin(), expected.end()),
                                         std::vector<uint8_t>(desired.begin(), desired.end()));
                  out->assign(v.begin(), v.end());
                },
                [out](Napi::Env env) { return Napi::String::New(env, *out); }))
        ->queue();
  }

  Napi::Value DeleteKey(const Napi::CallbackInfo& info) {
    auto s = store;
    auto key = info[0].As<Napi::String>().Utf8Value();
    auto out = std::make_shared<bool>(false);
    return (commTask(
                info.Env(), "COMM_STORE", [s, key, out] { *out = s->deleteKey(key); },
                [out](Napi::Env env) { return Napi::Boolean::New(env, *out); }))
        ->queue();
  }
};
Napi::FunctionReference* StoreWrap::ctor = nullptr;

// ---------------------------------------------------------------------------------------------------------
class GroupWrap : public Napi::ObjectWrap<GroupWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    auto f = DefineClass(env, "NativeProcessGroup",
                         {StaticMethod("create", &GroupWrap::Create),
                          InstanceMethod("allreduce", &GroupWrap::Allreduce),
                          InstanceMethod("broadcast", &GroupWrap::Broadcast),
                          InstanceMethod("barrier", &GroupWrap::Barrier),
                          InstanceMethod("close", &GroupWrap::Close)});
    ctor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }

  explicit GroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupWrap>(info) {}

  std::shared_ptr<c10d::ProcessGroupGloo> group;
  int size = 1;

 private:
  std::shared_ptr<c10d::ProcessGroupGloo> live(Napi::Env env) {
    if (!group) throw Napi::Error::New(env, "COMM_CLOSED: the process group is closed");
    return group;
  }

  // create(store, {prefix, rank, size, timeoutMs, iface?, hostname?}) -> Promise<NativeProcessGroup>.
  // Blocks until all `size` members have joined under `prefix` (each generation of an elastic job uses
  // its own prefix) or the timeout passes.
  static Napi::Value Create(const Napi::CallbackInfo& info) {
    auto store = StoreWrap::Unwrap(info[0].As<Napi::Object>())->store;
    auto o = info[1].As<Napi::Object>();
    auto prefix = str(o, "prefix", "pg");
    int rank = static_cast<int>(num(o, "rank", 0));
    int size = static_cast<int>(num(o, "size", 1));
    auto timeout = ms(num(o, "timeoutMs", 30000));
    auto iface = str(o, "iface");
    auto hostname = str(o, "hostname");
    auto holder = std::make_shared<std::shared_ptr<c10d::ProcessGroupGloo>>();
    auto task = commTask(
        info.Env(), "COMM_RENDEZVOUS",
        [=] {
          auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
          if (!iface.empty()) {
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
          } else if (!hostname.empty()) {
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
          } else {
            opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
          }
          opts->threads = 2;
          auto prefixed = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
          *holder = std::make_shared<c10d::ProcessGroupGloo>(prefixed, rank, size, opts);
        },
        [holder, size](Napi::Env env) {
          auto obj = ctor->New({});
          auto* w = GroupWrap::Unwrap(obj);
          w->group = *holder;
          w->size = size;
          return static_cast<Napi::Value>(obj);
        });
    return task->queue();
  }

  // allreduce(Float32Array, op: 'sum'|'avg'|'min'|'max', bucketElements) -> Promise<void>, in place.
  // The buffer is cut into buckets that are all put in flight before waiting, so Gloo overlaps them.
  Napi::Value Allreduce(const Napi::CallbackInfo& info) {
    auto g = live(info.Env());
    auto arr = info[0].As<Napi::Float32Array>();
    auto op = info[1].As<Napi::String>().Utf8Value();
    auto bucket = static_cast<int64_t>(info[2].As<Napi::Number>().Int64Value());
    auto n = static_cast<int64_t>(arr.ElementLength());
    float* data = arr.Data();
    int size = this->size;
    c10d::ReduceOp::RedOpType red = op == "min" ? c10d::ReduceOp::MIN : op == "max" ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    bool avg = op == "avg";
    auto task = commTask(
        info.Env(), "COMM_COLLECTIVE",
        [=] {
          auto flat = at::from_blob(data, {n}, at::kFloat);
          std::vector<c10::intrusive_ptr<c10d::Work>> works;
          c10d::AllreduceOptions opts;
          opts.reduceOp = c10d::ReduceOp(red);
          for (int64_t start = 0; start < n; start += bucket) {
            std::vector<at::Tensor> part{flat.narrow(0, start, std::min(bucket, n - start))};
            works.push_back(g->allreduce(part, opts));
          }
          for (auto& w : works) w->wait();
          if (avg) flat.div_(size);
        },
        nullptr);
    task->keep(arr);
    return task->queue();
  }

  // broadcast(Float32Array, root) -> Promise<void>: every rank ends with root's values.
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    auto g = live(info.Env());
    auto arr = info[0].As<Napi::Float32Array>();
    int root = info[1].As<Napi::Number>().Int32Value();
    auto n = static_cast<int64_t>(arr.ElementLength());
    float* data = arr.Data();
    auto task = commTask(
        info.Env(), "COMM_COLLECTIVE",
        [=] {
          std::vector<at::Tensor> t{at::from_blob(data, {n}, at::kFloat)};
          c10d::BroadcastOptions opts;
          opts.rootRank = root;
          g->broadcast(t, opts)->wait();
        },
        nullptr);
    task->keep(arr);
    return task->queue();
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    auto g = live(info.Env());
    return (commTask(info.Env(), "COMM_COLLECTIVE", [g] { g->barrier()->wait(); }, nullptr))->queue();
  }

  // Drops this handle; Gloo's threads and sockets go when the last pending operation lets go of it.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    auto g = std::move(group);
    group.reset();
    return (commTask(info.Env(), "COMM_COLLECTIVE", [g]() mutable { g.reset(); }, nullptr))->queue();
  }
};
Napi::FunctionReference* GroupWrap::ctor = nullptr;

}  // namespace

void InitCollective(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeStore", StoreWrap::Define(env));
  exports.Set("NativeProcessGroup", GroupWrap::Define(env));
}

}  // namespace distml
