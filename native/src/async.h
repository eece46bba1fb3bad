// The N-API plumbing every addon file shares: a promise-returning task on the libuv pool, and the guard that
// turns a C++ exception thrown on the JS thread into a coded JS Error (errors.h). addon.cc (model jobs),
// collective.cc (store and process-group calls) and image.cc (JPEG decoding) all run their work through it.
#pragma once

#include <napi.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace distml {

// Runs `work` on the libuv pool and settles a promise: `done` builds the resolved value on the JS thread;
// whatever `work` throws rejects it as "<code>: <message>". Create with new; N-API deletes it when settled.
class AsyncTask : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  // `resource` names the task in async_hooks; `code` prefixes its failures (ENGINE_NATIVE, COMM_STORE, ...).
  AsyncTask(Napi::Env env, const char* resource, const char* code, Work work = nullptr, Done done = nullptr)
      : Napi::AsyncWorker(env, resource),
        deferred_(Napi::Promise::Deferred::New(env)),
        code_(code),
        work_(std::move(work)),
        done_(std::move(done)) {}

  void work(Work w) { work_ = std::move(w); }
  void done(Done d) { done_ = std::move(d); }

  // Keeps a JS object (a typed array the work reads or writes in place) alive until the task settles.
  void keep(const Napi::Value& v) { refs_.push_back(Napi::Persistent(v.As<Napi::Object>())); }

  Napi::Promise queue() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      if (work_) work_();
    } catch (...) {
      SetError(describeCurrentException(code_));
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
  const char* code_;
  Work work_;
  Done done_;
  std::vector<Napi::ObjectReference> refs_;
};

// Runs `f` on the JS thread; a Napi::Error passes through, anything else becomes a JS Error whose message
// starts with `code` (or ENGINE_BAD_INPUT for an InputError).
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* code, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error::New(info.Env(), describeCurrentException(code));
  }
}

// A TypeError whose message starts with `code`, for arguments of the wrong JS type.
inline Napi::TypeError codedTypeError(Napi::Env env, const char* code, const std::string& message) {
  return Napi::TypeError::New(env, std::string(code) + ": " + message);
}

}  // namespace distml
