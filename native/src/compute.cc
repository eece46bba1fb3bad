#include "compute.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

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

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int n = static_cast<int>(info[0].ToNumber().Int32Value());
  if (n < 1) throw Napi::RangeError::New(info.Env(), "ENGINE_BAD_INPUT: threads must be a positive integer");
  g_threads.store(n);
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  const int n = g_threads.load();
  return Napi::Number::New(info.Env(), n > 0 ? n : at::get_num_threads());
}


}  // namespace

void runOnComputeThread(const std::function<void()>& task) {
  ComputeThread::get().run([&] {
    applyThreadSetting();
    task();
  });
}

void InitCompute(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
}

}  // namespace distml
