// The process's one compute thread and its libtorch thread count (the addon's setNumThreads/getNumThreads).
#pragma once

#include <napi.h>

#include <functional>

namespace distml {

// Runs `task` on the compute thread with the requested intra-op thread count applied, and waits for it;
// rethrows what it threw. Every model job runs its torch work through here.
void runOnComputeThread(const std::function<void()>& task);

// Adds setNumThreads and getNumThreads to the addon's exports.
void InitCompute(Napi::Env env, Napi::Object exports);

}  // namespace distml
