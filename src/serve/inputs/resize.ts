// tf.image.resize(method='bilinear') to the model's input size: half-pixel centres, no antialiasing, then the
// uint8 cast (truncation) and 1/255 scaling of the book's serving signature (Listing 9.20).

/** A one-channel image: luma 0..255, row-major. */
export interface Gray {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** tf.image.resize(method='bilinear') weights along one axis: source index pair and fraction. */
function axisWeights(
  inSize: number,
  outSize: number,
): { lo: Int32Array; hi: Int32Array; frac: Float32Array } {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const f = Math.floor(x);
    lo[o] = Math.max(f, 0);
    hi[o] = Math.min(Math.ceil(x), inSize - 1);
    frac[o] = x - f;
  }
  return { lo, hi, frac };
}

/** Writes `img` resized to `outH`×`outW` values in [0, 1] into `out` at `offset`. */
export function resizeBilinear(
  img: Gray,
  outH: number,
  outW: number,
  out: Float32Array,
  offset: number,
): void {
  const p = img.pixels;
  if (img.width === outW && img.height === outH) {
    // Half-pixel centres at scale 1 land on the pixels themselves: resizing is the identity.
    for (let i = 0; i < p.length; i++) out[offset + i] = (p[i] as number) / 255;
    return;
  }
  const ys = axisWeights(img.height, outH);
  const xs = axisWeights(img.width, outW);
  for (let y = 0; y < outH; y++) {
    const top = (ys.lo[y] as number) * img.width;
    const bottom = (ys.hi[y] as number) * img.width;
    const fy = ys.frac[y] as number;
    for (let x = 0; x < outW; x++) {
      const l = xs.lo[x] as number;
      const r = xs.hi[x] as number;
      const fx = xs.frac[x] as number;
      const t = (p[top + l] as number) + ((p[top + r] as number) - (p[top + l] as number)) * fx;
      const b = (p[bottom + l] as number) + ((p[bottom + r] as number) - (p[bottom + l] as number)) * fx;
      const v = Math.min(255, Math.max(0, t + (b - t) * fy));
      out[offset + y * outW + x] = Math.trunc(v) / 255;
    }
  }
}
