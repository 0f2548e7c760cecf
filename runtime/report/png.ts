/**
 * A minimal PNG encoder for 8-bit greyscale images (MNIST digits in reports): signature, IHDR,
 * one zlib-compressed IDAT (every row with filter 0) and IEND, with CRC-32 computed here and the
 * compression from node:zlib. `pngDataUri` gives a `data:` URI an HTML page can inline, so a
 * report needs no image files.
 *
 * @example
 * import { encodeGrayPng, pngDataUri } from 'winnow/runtime/report/png';
 * const pixels = new Uint8Array(28 * 28).fill(255);       // a white 28 x 28 image
 * const png = encodeGrayPng(pixels, 28, 28);               // Uint8Array, starts with 0x89 'PNG'
 * const html = `<img src="${pngDataUri(pixels, 28, 28)}">`;
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32 (IEEE 802.3, as PNG and zlib use it) of `bytes`.
 *
 * @example
 * crc32(new TextEncoder().encode('IEND')); // 0xae426082
 */
export const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

const chunk = (type: string, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
};

/**
 * Encodes `width x height` greyscale bytes (row-major, 0 = black, 255 = white) as a PNG file.
 *
 * @example
 * const png = encodeGrayPng(new Uint8Array([0, 255, 255, 0]), 2, 2); // a 2 x 2 checkerboard
 */
export const encodeGrayPng = (pixels: Uint8Array, width: number, height: number): Uint8Array => {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new RangeError(`encodeGrayPng: width and height must be positive integers, got ${width} x ${height}`);
  if (pixels.length !== width * height) throw new RangeError(`encodeGrayPng: ${width} x ${height} needs ${width * height} pixels, got ${pixels.length}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (greyscale), deflate, filter set 0, no interlace
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter byte 0
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(raw, { level: 9 }))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/**
 * A `data:image/png;base64,...` URI of a greyscale image.
 *
 * @example
 * const uri = pngDataUri(new Uint8Array(784), 28, 28); // a black 28 x 28 image
 */
export const pngDataUri = (pixels: Uint8Array, width: number, height: number): string =>
  `data:image/png;base64,${Buffer.from(encodeGrayPng(pixels, width, height)).toString('base64')}`;
