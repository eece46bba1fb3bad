"""Anchor for bench/ingest: numpy's gzip+frombuffer+astype/255 over the same files (one pass, no cache)."""
import gzip, json, sys, time
import numpy as np

images, labels = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
with gzip.open(images) as f:
    raw = f.read()
with gzip.open(labels) as f:
    lab = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
assert x.shape[0] == lab.shape[0]
dt = time.perf_counter() - t0
print(json.dumps({"records": int(x.shape[0]), "seconds": dt, "recordsPerSecond": x.shape[0] / dt}))
