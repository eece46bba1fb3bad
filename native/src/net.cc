#include "net.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

namespace distml {
namespace {

// Keras glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)); same fans as torch's xavier.
at::Tensor glorotUniform(at::IntArrayRef shape, int64_t fanIn, int64_t fanOut, at::Generator& gen) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fanIn + fanOut));
  return at::empty(shape, at::kFloat).uniform_(-limit, limit, gen);
}

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << ']';
  return s.str();
}

void checkShape(const std::string& name, const at::Tensor& got, const at::Tensor& want) {
  if (got.numel() != want.numel()) {
    throw InputError(name + " has " + std::to_string(got.numel()) + " values, expected " +
                     std::to_string(want.numel()) + " (shape " + shapeString(want.sizes()) + ")");
  }
}

// The optimizer keys its per-parameter state by TensorImpl address (torch/optim/serialize.h does the same).
std::string stateKey(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

}  // namespace

Net::Net(NetDef def, uint64_t seed) : def_(std::move(def)), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  layerTensors_.resize(def_.layers.size());
  for (size_t i = 0; i < def_.layers.size(); ++i) {
    const LayerDef& l = def_.layers[i];
    auto& ts = layerTensors_[i];
    if (l.kind == Kind::Conv2d) {
      const int64_t rf = l.kh * l.kw;
      ts.push_back(addParam(l.name + "/kernel", glorotUniform({l.out, l.in, l.kh, l.kw}, l.in * rf, l.out * rf, gen_), true));
      ts.push_back(addParam(l.name + "/bias", at::zeros({l.out}), true));
    } else if (l.kind == Kind::Dense) {
      ts.push_back(addParam(l.name + "/kernel", glorotUniform({l.out, l.in}, l.in, l.out, gen_), true));
      ts.push_back(addParam(l.name + "/bias", at::zeros({l.out}), true));
    } else if (l.kind == Kind::BatchNorm) {
      ts.push_back(addParam(l.name + "/gamma", at::ones({l.in}), true));
      ts.push_back(addParam(l.name + "/beta", at::zeros({l.in}), true));
      ts.push_back(addParam(l.name + "/moving_mean", at::zeros({l.in}), false));
      ts.push_back(addParam(l.name + "/moving_variance", at::ones({l.in}), false));
    }
  }
  setOptimizer(OptimizerDef{});
}

at::Tensor Net::addParam(const std::string& name, at::Tensor t, bool trainable) {
  if (trainable) {
    t.set_requires_grad(true);
    params_.push_back(t);
    paramNames_.push_back(name);
  }
  state_.push_back({name, t});
  return t;
}

int64_t Net::trainableCount() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  return n;
}

int64_t Net::stateCount() const {
  int64_t n = 0;
  for (const auto& s : state_) n += s.tensor.numel();
  return n;
}

void Net::setOptimizer(const OptimizerDef& def) {
  if (def.type == "adam") {
    opt_ = std::make_unique<torch::optim::Adam>(
        params_, torch::optim::AdamOptions(def.learningRate).betas({def.beta1, def.beta2}).eps(def.epsilon));
  } else if (def.type == "sgd") {
    opt_ = std::make_unique<torch::optim::SGD>(params_,
                                               torch::optim::SGDOptions(def.learningRate).momentum(def.momentum));
  } else {
    throw InputError("unknown optimizer type '" + def.type + "'");
  }
  optDef_ = def;
}

void Net::setLearningRate(double lr) {
  for (auto& group : opt_->param_groups()) group.options().set_lr(lr);
  optDef_.learningRate = lr;
}

void Net::manualSeed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(gen_.mutex());
  gen_.set_current_seed(seed);
}

at::Tensor Net::activate(Act act, const at::Tensor& x, bool skipSoftmax) const {
  switch (act) {
    case Act::Relu: return at::relu(x);
    case Act::Sigmoid: return at::sigmoid(x);
    case Act::Tanh: return at::tanh(x);
    case Act::Softmax: return skipSoftmax ? x : at::softmax(x, 1);
    case Act::Linear: return x;
  }
  return x;
}

at::Tensor Net::layerForward(const LayerDef& l, size_t index, at::Tensor x, bool train) {
  const auto& ts = layerTensors_[index];
  const bool skipSoftmax = def_.logitsOutput && index + 1 == def_.layers.size();
  const bool padded = l.padTop || l.padBottom || l.padLeft || l.padRight;
  switch (l.kind) {
    case Kind::Conv2d:
      // Keras 'same' may pad asymmetrically (extra row/column at the end), which conv2d cannot express.
      if (padded) x = at::constant_pad_nd(x, {l.padLeft, l.padRight, l.padTop, l.padBottom}, 0);
      return activate(l.act, at::conv2d(x, ts[0], ts[1], {l.sh, l.sw}), skipSoftmax);
    case Kind::MaxPool2d:
      if (padded) {
        x = at::constant_pad_nd(x, {l.padLeft, l.padRight, l.padTop, l.padBottom},
                                -std::numeric_limits<double>::infinity());
      }
      return at::max_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw});
    case Kind::Dense: return activate(l.act, at::linear(x, ts[0], ts[1]), skipSoftmax);
    case Kind::Dropout: {
      if (!train || l.rate <= 0) return x;
      // Drawn from the model's own generator so a seed reproduces training regardless of other models.
      at::Tensor mask = at::empty_like(x).bernoulli_(1.0 - l.rate, gen_).div_(1.0 - l.rate);
      return x * mask;
    }
    case Kind::BatchNorm:
      return at::batch_norm(x, ts[0], ts[1], ts[2], ts[3], train, 1.0 - l.momentum, l.epsilon, false);
    case Kind::Flatten:
      // Back to NHWC before flattening so dense kernels see features in Keras order.
      if (x.dim() == 4) x = x.permute({0, 2, 3, 1});
      return x.reshape({x.size(0), -1});
    case Kind::Activation: return activate(l.act, x, skipSoftmax);
  }
  return x;
}

at::Tensor Net::forward(const at::Tensor& images, bool train) {
  const int64_t n = images.size(0);
  const auto& s = def_.inputShape;
  at::Tensor x;
  if (s.size() == 3) {
    // NHWC -> NCHW once. With one channel this is a free view with standard (non channels-last) strides.
    x = s[2] == 1 ? images.view({n, 1, s[0], s[1]})
                  : images.view({n, s[0], s[1], s[2]}).permute({0, 3, 1, 2}).contiguous();
  } else {
    x = images.view({n, s[0]});
  }
  for (size_t i = 0; i < def_.layers.size(); ++i) x = layerForward(def_.layers[i], i, x, train);
  return x;
}

void Net::clearGradients() {
  for (auto& p : params_) p.mutable_grad().reset();
}

StepResult Net::lossAndBackward(const at::Tensor& images, const at::Tensor& labels) {
  clearGradients();
  at::Tensor logits = forward(images, true);
  at::Tensor target = labels.to(at::kLong);
  // Non-softmax outputs are treated as logits too (Keras from_logits=True).
  at::Tensor loss = at::nll_loss(at::log_softmax(logits, 1), target);
  loss.backward();
  StepResult r;
  r.loss = loss.item<double>();
  r.correct = logits.detach().argmax(1).eq(target).sum().item<int64_t>();
  r.count = images.size(0);
  return r;
}

StepResult Net::trainStep(const at::Tensor& images, const at::Tensor& labels) {
  StepResult r = lossAndBackward(images, labels);
  opt_->step();
  clearGradients();
  return r;
}

StepResult Net::forwardBackward(const at::Tensor& images, const at::Tensor& labels) {
  return lossAndBackward(images, labels);
}

void Net::gradientsInto(const at::Tensor& flat) {
  checkShape("gradients", flat, at::empty({trainableCount()}));
  int64_t offset = 0;
  for (const auto& p : params_) {
    at::Tensor dst = flat.narrow(0, offset, p.numel());
    if (p.grad().defined()) {
      dst.copy_(p.grad().reshape({-1}));
    } else {
      dst.zero_();
    }
    offset += p.numel();
  }
}

void Net::setGradients(const at::Tensor& flat) {
  checkShape("gradients", flat, at::empty({trainableCount()}));
  int64_t offset = 0;
  for (auto& p : params_) {
    p.mutable_grad() = flat.narrow(0, offset, p.numel()).view(p.sizes()).clone();
    offset += p.numel();
  }
}

void Net::applyGradients() {
  opt_->step();
  clearGradients();
}

StepResult Net::evaluate(const at::Tensor& images, const at::Tensor& labels, int64_t batchSize) {
  c10::InferenceMode guard;
  StepResult r;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += batchSize) {
    const int64_t len = std::min(batchSize, n - start);
    at::Tensor logits = forward(images.narrow(0, start, len), false);
    at::Tensor target = labels.narrow(0, start, len).to(at::kLong);
    r.loss += at::nll_loss(at::log_softmax(logits, 1), target, {}, at::Reduction::Sum).item<double>();
    r.correct += logits.argmax(1).eq(target).sum().item<int64_t>();
  }
  r.count = n;
  return r;
}

void Net::predictInto(const at::Tensor& images, const at::Tensor& out, int64_t batchSize) {
  c10::InferenceMode guard;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += batchSize) {
    const int64_t len = std::min(batchSize, n - start);
    at::Tensor logits = forward(images.narrow(0, start, len), false);
    at::Tensor dst = out.narrow(0, start, len);
    if (def_.logitsOutput) {
      at::softmax_out(dst, logits, 1);
    } else {
      dst.copy_(logits);
    }
  }
}

void Net::parametersInto(const at::Tensor& flat) {
  checkShape("parameters", flat, at::empty({trainableCount()}));
  at::NoGradGuard guard;
  int64_t offset = 0;
  for (const auto& p : params_) {
    flat.narrow(0, offset, p.numel()).copy_(p.reshape({-1}));
    offset += p.numel();
  }
}

void Net::setParameters(const at::Tensor& flat) {
  checkShape("parameters", flat, at::empty({trainableCount()}));
  at::NoGradGuard guard;
  int64_t offset = 0;
  for (auto& p : params_) {
    p.copy_(flat.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
}

void Net::setState(const std::vector<NamedTensor>& tensors) {
  std::map<std::string, at::Tensor> byName;
  for (const auto& t : tensors) byName[t.name] = t.tensor;
  for (const auto& s : state_) {
    auto it = byName.find(s.name);
    if (it == byName.end()) throw InputError("state is missing tensor '" + s.name + "'");
    checkShape(s.name, it->second, s.tensor);
  }
  if (byName.size() != state_.size()) throw InputError("state has tensors this model does not have");
  at::NoGradGuard guard;
  for (auto& s : state_) s.tensor.copy_(byName[s.name].view(s.tensor.sizes()));
}

std::vector<NamedTensor> Net::optimizerState() const {
  std::vector<NamedTensor> out;
  const auto& state = opt_->state();
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = state.find(stateKey(params_[i]));
    if (it == state.end()) continue;
    const std::string& name = paramNames_[i];
    if (optDef_.type == "adam") {
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
      // Float32 holds step counts exactly up to 2^24.
      out.push_back({name + "/step", at::full({}, static_cast<double>(s.step()), at::kFloat)});
      out.push_back({name + "/exp_avg", s.exp_avg().clone()});
      out.push_back({name + "/exp_avg_sq", s.exp_avg_sq().clone()});
    } else {
      const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
      if (s.momentum_buffer().defined()) out.push_back({name + "/momentum_buffer", s.momentum_buffer().clone()});
    }
  }
  return out;
}

void Net::setOptimizerState(const std::vector<NamedTensor>& tensors) {
  std::map<std::string, at::Tensor> byName;
  for (const auto& t : tensors) byName[t.name] = t.tensor;
  size_t used = 0;
  auto take = [&](const std::string& name, const at::Tensor& like) -> at::Tensor {
    auto it = byName.find(name);
    if (it == byName.end()) return {};
    checkShape(name, it->second, like);
    ++used;
    return it->second.view(like.sizes()).clone();
  };
  ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>> next;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    const std::string& name = paramNames_[i];
    if (optDef_.type == "adam") {
      at::Tensor step = take(name + "/step", at::empty({}));
      at::Tensor m = take(name + "/exp_avg", p);
      at::Tensor v = take(name + "/exp_avg_sq", p);
      if (!step.defined() && !m.defined() && !v.defined()) continue;
      if (!step.defined() || !m.defined() || !v.defined()) {
        throw InputError("optimizer state for '" + name + "' needs step, exp_avg and exp_avg_sq together");
      }
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(static_cast<int64_t>(std::llround(step.item<double>())));
      s->exp_avg(m);
      s->exp_avg_sq(v);
      next[stateKey(p)] = std::move(s);
    } else {
      at::Tensor buf = take(name + "/momentum_buffer", p);
      if (!buf.defined()) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(buf);
      next[stateKey(p)] = std::move(s);
    }
  }
  if (used != byName.size()) {
    throw InputError("optimizer state has tensors this " + optDef_.type + " optimizer does not know");
  }
  opt_->state() = std::move(next);
}

}  // namespace distml
