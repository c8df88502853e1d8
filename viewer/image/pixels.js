// Pixel arrays arrive as base64 of zlib-deflated little-endian data (core/export/viewer.py).
async function inflate(base64) {
  // the browser's own base64 and inflate: tens of MB in a fraction of a second
  const packed = await (await fetch(`data:application/octet-stream;base64,${base64}`)).blob();
  const stream = packed.stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function decodePixels(base64, count) {
  const bytes = await inflate(base64);
  if (bytes.byteLength !== count * 2) throw new Error(`expected ${count} pixels, got ${bytes.byteLength / 2}`);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
}

export async function decodeBytes(base64, count) {
  const bytes = await inflate(base64);
  if (bytes.byteLength !== count) throw new Error(`expected ${count} values, got ${bytes.byteLength}`);
  return bytes;
}
