import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, encodeGrayPng, pngDataUri } from '../../runtime/report/png.ts';

/** Splits a PNG into its chunks, checking every CRC. */
const chunks = (png: Uint8Array) => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: { type: string; data: Uint8Array }[] = [];
  for (let at = 8; at < png.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    expect(view.getUint32(at + 8 + length), `${type} CRC`).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    out.push({ type, data });
    at += 12 + length;
  }
  return out;
};

describe('PNG encoder', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
  });

  it('writes signature, IHDR, IDAT and IEND, and the pixels inflate back unchanged', () => {
    const w = 5;
    const h = 3;
    const pixels = Uint8Array.from({ length: w * h }, (_, i) => (i * 37) % 256);
    const png = encodeGrayPng(pixels, w, h);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const cs = chunks(png);
    expect(cs.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = new DataView(cs[0].data.buffer, cs[0].data.byteOffset, 13);
    expect([ihdr.getUint32(0), ihdr.getUint32(4), ...cs[0].data.subarray(8)]).toEqual([5, 3, 8, 0, 0, 0, 0]);
    const raw = inflateSync(cs[1].data);
    expect(raw.length).toBe(h * (w + 1));
    for (let y = 0; y < h; y++) {
      expect(raw[y * (w + 1)]).toBe(0); // filter: none
      expect([...raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1))]).toEqual([...pixels.subarray(y * w, (y + 1) * w)]);
    }
    expect(cs[2].data.length).toBe(0);
  });

  it('makes a base64 data URI of the same bytes', () => {
    const pixels = new Uint8Array(784).fill(128);
    const uri = pngDataUri(pixels, 28, 28);
    expect(uri.startsWith('data:image/png;base64,')).toBe(true);
    expect(new Uint8Array(Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64'))).toEqual(encodeGrayPng(pixels, 28, 28));
  });

  it('refuses a size that does not match the pixels', () => {
    expect(() => encodeGrayPng(new Uint8Array(10), 3, 3)).toThrow(/3 x 3 needs 9 pixels, got 10/);
    expect(() => encodeGrayPng(new Uint8Array(0), 0, 0)).toThrow(/positive integers/);
  });
});
