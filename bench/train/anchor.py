"""PyTorch anchor for bench/train: the book's CNN, same data, batch size, optimizer and thread count.

Modes (argv[1]):
  throughput THREADS STEPS   training images/s (after 20 warm-up steps), batch 64, Adam 1e-3
  inference THREADS PASSES   inference images/s over PASSES passes of the test split at batch 256
  to90 THREADS MAX_EPOCHS    training seconds until test accuracy >= 0.90 (evaluated after each epoch)
Data: Fashion-MNIST IDX files (argv: DIR), scaled to [0, 1], held in memory as tensors: the usual fast loop.
"""
import gzip, json, os, sys, time
import numpy as np
import torch
from torch import nn

mode, threads = sys.argv[1], int(sys.argv[2])
data_dir = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")
torch.set_num_threads(threads)
torch.manual_seed(1)


def idx(name, offset):
    with gzip.open(os.path.join(data_dir, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def split(prefix, n):
    x = idx(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    y = idx(f"{prefix}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def book_cnn():
    # Listing 9.4 in PyTorch terms: 93,322 parameters; softmax folded into the loss (CrossEntropyLoss).
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    )


model = book_cnn()
assert sum(p.numel() for p in model.parameters()) == 93322
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()


def train_steps(x, y, steps, batch=64, gen=None):
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    pos = 0
    for _ in range(steps):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        i = perm[pos:pos + batch]
        pos += batch
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[i]), y[i])
        loss.backward()
        opt.step()


def accuracy(x, y):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, x.shape[0], 256):
            correct += (model(x[s:s + 256]).argmax(1) == y[s:s + 256]).sum().item()
    return correct / x.shape[0]


if mode == "throughput":
    steps = int(sys.argv[3])
    x, y = split("train", 60000)
    train_steps(x, y, 20)
    t0 = time.perf_counter()
    train_steps(x, y, steps)
    dt = time.perf_counter() - t0
    print(json.dumps({"imagesPerSecond": steps * 64 / dt, "seconds": dt, "steps": steps}))
elif mode == "inference":
    x, _ = split("t10k", 10000)
    model.eval()
    with torch.inference_mode():
        model(x[:256])
        passes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        t0 = time.perf_counter()
        for _ in range(passes):
            for s in range(0, 10000, 256):
                model(x[s:s + 256])
        dt = time.perf_counter() - t0
    print(json.dumps({"imagesPerSecond": passes * 10000 / dt, "seconds": dt, "passes": passes}))
elif mode == "to90":
    max_epochs = int(sys.argv[3])
    x, y = split("train", 60000)
    tx, ty = split("t10k", 10000)
    spent, acc, epochs = 0.0, 0.0, 0
    for epochs in range(1, max_epochs + 1):
        t0 = time.perf_counter()
        train_steps(x, y, 60000 // 64)
        spent += time.perf_counter() - t0
        acc = accuracy(tx, ty)
        if acc >= 0.90:
            break
    print(json.dumps({"seconds": spent if acc >= 0.90 else None, "epochs": epochs, "testAccuracy": acc}))
