// The tensor side of distml: a sequential network in the Keras vocabulary, its optimizer and state.
// No N-API here; addon.cc adapts this to JavaScript. Shapes and names are decided in TypeScript
// (src/engine/shapes.ts); this file trusts the lowered layer list it is given.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "errors.h"

namespace distml {

enum class Kind { Conv2d, MaxPool2d, Dense, Dropout, BatchNorm, Flatten, Activation };
enum class Act { Linear, Relu, Sigmoid, Tanh, Softmax };

struct LayerDef {
  Kind kind = Kind::Flatten;
  std::string name;
  Act act = Act::Linear;
  int64_t in = 0, out = 0;                   // channels (conv, batch norm) or features (dense)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;    // kernel / pool window and strides
  int64_t padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;
  double rate = 0, momentum = 0.99, epsilon = 1e-3;  // dropout rate; Keras batch-norm momentum/epsilon
};

struct NetDef {
  std::vector<int64_t> inputShape;  // [H, W, C] (NHWC like Keras) or [F]
  std::vector<LayerDef> layers;
  bool logitsOutput = false;  // last layer ends in softmax: skip it and use log_softmax in the loss
};

struct OptimizerDef {
  std::string type = "adam";
  double learningRate = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, momentum = 0;
};

struct StepResult {
  double loss = 0;  // mean over the batch (evaluate: sum, divided in TypeScript)
  int64_t correct = 0;
  int64_t count = 0;
};

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

class Net {
 public:
  Net(NetDef def, uint64_t seed);

  int64_t trainableCount() const;
  int64_t stateCount() const;
  // Parameters then buffers, layer by layer, Keras names ("conv2d_1/kernel", ".../moving_mean").
  const std::vector<NamedTensor>& stateTensors() const { return state_; }
  const std::vector<at::Tensor>& parameters() const { return params_; }

  void setOptimizer(const OptimizerDef& def);
  void setLearningRate(double lr);
  void manualSeed(uint64_t seed);

  // images: float [N, prod(inputShape)] NHWC; labels: any integer dtype [N].
  StepResult trainStep(const at::Tensor& images, const at::Tensor& labels);
  StepResult forwardBackward(const at::Tensor& images, const at::Tensor& labels);
  void gradientsInto(const at::Tensor& flat);
  void setGradients(const at::Tensor& flat);
  void applyGradients();
  StepResult evaluate(const at::Tensor& images, const at::Tensor& labels, int64_t batchSize);
  void predictInto(const at::Tensor& images, const at::Tensor& out, int64_t batchSize);

  void parametersInto(const at::Tensor& flat);
  void setParameters(const at::Tensor& flat);
  void setState(const std::vector<NamedTensor>& tensors);
  std::vector<NamedTensor> optimizerState() const;
  void setOptimizerState(const std::vector<NamedTensor>& tensors);

  std::mutex mutex;  // serialises every use; the TypeScript queue also orders calls

 private:
  at::Tensor forward(const at::Tensor& images, bool train);
  at::Tensor layerForward(const LayerDef& layer, size_t index, at::Tensor x, bool train);
  at::Tensor activate(Act act, const at::Tensor& x, bool skipSoftmax) const;
  at::Tensor addParam(const std::string& name, at::Tensor t, bool trainable);
  StepResult lossAndBackward(const at::Tensor& images, const at::Tensor& labels);
  void clearGradients();

  NetDef def_;
  at::Generator gen_;
  std::vector<std::vector<at::Tensor>> layerTensors_;  // per layer: weights, then buffers
  std::vector<at::Tensor> params_;                     // trainable, in state order
  std::vector<std::string> paramNames_;
  std::vector<NamedTensor> state_;
  OptimizerDef optDef_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
};

}  // namespace distml
