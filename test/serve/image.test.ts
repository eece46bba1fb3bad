import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { decodeBase64, ImageDecoder, imageHeader, imageToInput, ServeError } from '../../src/serve/index.js';
import { blankPng, encodeJpeg, encodePng } from './fixtures.js';

function decode(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(784);
  imageToInput(bytes, out, 0);
  return out;
}

describe('image bytes to model input', () => {
  it('keeps a 28x28 PNG exactly (pixel / 255)', () => {
    const gray = Uint8Array.from({ length: 784 }, (_, i) => i % 256);
    const x = decode(encodePng(gray));
    x.forEach((v, i) => assert.equal(v, Math.fround((i % 256) / 255)));
  });

  it('halves a 56x56 image by averaging 2x2 blocks, as tf.image.resize bilinear does', () => {
    const gray = Uint8Array.from({ length: 56 * 56 }, (_, i) => (i % 2 === 0 ? 100 : 201));
    const x = decode(encodePng(gray, 56, 56));
    // (100 + 201) / 2 = 150.5, truncated to 150 by the uint8 cast of Listing 9.20.
    for (const v of x) assert.equal(v, Math.fround(150 / 255));
  });

  it('decodes a JPEG close to its pixels', () => {
    const gray = new Uint8Array(784).fill(90);
    for (const v of decode(encodeJpeg(gray, 28, 28, 100))) assert.ok(Math.abs(v * 255 - 90) <= 2);
  });

  it('decodes a JPEG with detail to its pixels (libjpeg-turbo), and colour to BT.601 luma', () => {
    const gray = Uint8Array.from({ length: 784 }, (_, i) => (i % 28) * 4 + Math.floor(i / 28) * 4);
    const x = decode(encodeJpeg(gray, 28, 28, 100));
    x.forEach((v, i) => assert.ok(Math.abs(v * 255 - (gray[i] as number)) <= 3, `pixel ${i}: ${v * 255}`));
    const red = Buffer.alloc(28 * 28 * 4);
    for (let i = 0; i < 784; i++) red.writeUInt32BE(0xff0000ff, i * 4);
    const luma = decode(jpeg.encode({ data: red, width: 28, height: 28 }, 100).data);
    // 0.299 * 255 = 76.2; JPEG's chroma rounding moves it by a level or two.
    for (const v of luma) assert.ok(Math.abs(v * 255 - 76) <= 2, `red decodes to ${v * 255}`);
  });

  it('rejects a truncated or corrupt JPEG and one declaring a huge size, before decoding pixels', () => {
    const good = encodeJpeg(Uint8Array.from({ length: 784 }, (_, i) => (i * 37) % 256));
    assert.throws(() => decode(good.subarray(0, Math.floor(good.length / 2))), /not a decodable JPEG/);
    const corrupt = Buffer.from(good);
    corrupt.fill(0xff, 200, 260);
    assert.throws(() => decode(corrupt), /not a decodable JPEG/);
    const huge = Buffer.from(good);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    assert.ok(sof > 0, 'baseline SOF0 marker');
    huge.writeUInt16BE(60_000, sof + 5); // height
    huge.writeUInt16BE(60_000, sof + 7); // width
    assert.throws(() => decode(huge), /60000x60000; each side must be/);
  });

  it('rejects bytes that are not an image, a truncated PNG and an oversized one', () => {
    assert.throws(() => decode(Buffer.from('GIF89a....')), /not a JPEG or PNG/);
    const png = encodePng(new Uint8Array(784));
    assert.throws(() => decode(png.subarray(0, 40)), /PNG/);
    const huge = Buffer.from(png);
    huge.writeUInt32BE(100_000, 16);
    assert.throws(() => decode(huge), /each side must be/);
  });
});

describe('base64 in requests', () => {
  const ok = (s: string) => Buffer.from(decodeBase64(s, 'x')).toString('latin1');
  const bad = (s: string) => assert.throws(() => decodeBase64(s, 'x'), /not valid base64|empty/, s);

  it('takes padded, unpadded, URL-safe and line-wrapped base64', () => {
    assert.equal(ok('aGk='), 'hi');
    assert.equal(ok('aGk'), 'hi');
    assert.equal(ok('aGVsbG8h'), 'hello!');
    assert.equal(ok('aA=='), 'h');
    assert.equal(ok('aA'), 'h');
    assert.equal(ok('-_8'), Buffer.from([0xfb, 0xff]).toString('latin1'));
    assert.equal(ok('aGVs\nbG8h '), 'hello!');
  });

  it('refuses other characters, misplaced padding and impossible lengths', () => {
    for (const s of ['', '!!!not base64', 'aGk=a', 'a===', 'aGk==', 'aA=', '=', '==', 'a', 'aGVsb', 'aG k*'])
      bad(s);
  });
});

describe('decode budget and decoding off the event loop', () => {
  const tooLarge = (flag: string) => (err: unknown) =>
    err instanceof ServeError && err.code === 'SERVE_TOO_LARGE' && err.message.includes(flag);

  it('reads the declared size from the PNG IHDR and the JPEG SOF header', () => {
    assert.deepEqual(imageHeader(blankPng(4096, 4096)), {
      format: 'png',
      width: 4096,
      height: 4096,
      decodedBytes: 4096 * 4097 + 4096 * 4096 * 4,
    });
    const jpg = imageHeader(encodeJpeg(new Uint8Array(30 * 20), 30, 20));
    assert.deepEqual([jpg.format, jpg.width, jpg.height], ['jpeg', 30, 20]);
    assert.throws(() => imageHeader(blankPng(5000, 10), 'instances[2]'), /instances\[2\]: image is 5000x10/);
  });

  it('refuses images over --max-decode-pixels in total with a 413 before inflating any of them', async () => {
    const d = new ImageDecoder({ maxPixels: 4096 * 4096 });
    try {
      // Its scanlines are garbage: decoding it would be a 400, so a 413 proves nothing was decoded.
      const bogus = blankPng(4096, 4096);
      bogus.fill(0x55, 41, bogus.length - 12);
      const jobs = [0, 1].map((i) => ({ bytes: bogus, offset: i * 784, where: `instances[${i}]` }));
      await assert.rejects(d.decode(jobs, new Float32Array(2 * 784)), tooLarge('--max-decode-pixels'));
      await assert.rejects(d.decode(jobs.slice(1), new Float32Array(2 * 784)), /not a decodable PNG/);
    } finally {
      await d.close();
    }
  });

  it('refuses images over --max-decode-bytes (16-bit RGBA) with a 413', async () => {
    const d = new ImageDecoder({ maxBytes: 40_000 });
    try {
      const png = blankPng(64, 64, 6, 16);
      await assert.rejects(
        d.decode([{ bytes: png, offset: 0, where: 'x' }], new Float32Array(784)),
        tooLarge('--max-decode-bytes'),
      );
    } finally {
      await d.close();
    }
  });

  it('decodes large PNGs on a thread and JPEGs on the libuv pool to the same inputs as in-thread', async () => {
    const d = new ImageDecoder({ threads: 2 });
    try {
      const gray = Uint8Array.from({ length: 300 * 300 }, (_, i) => (i * 7 + Math.floor(i / 300)) % 256);
      const images = [encodePng(gray, 300, 300), encodeJpeg(gray, 300, 300), encodePng(gray, 300, 300)];
      const jobs = images.map((bytes, i) => ({ bytes, offset: i * 784, where: `instances[${i}]` }));
      const out = new Float32Array(3 * 784);
      await d.decode(jobs, out);
      images.forEach((bytes, i) => {
        const expected = new Float32Array(784);
        imageToInput(bytes, expected, 0);
        assert.deepEqual(out.subarray(i * 784, (i + 1) * 784), expected, `image ${i}`);
      });
      const bad = Buffer.from(images[0] as Buffer);
      bad.fill(0, 60, 200);
      await assert.rejects(d.decode([{ bytes: bad, offset: 0, where: 'x' }], new Float32Array(784)), /PNG/);
    } finally {
      await d.close();
    }
  });
});
