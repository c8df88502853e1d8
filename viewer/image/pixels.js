// Pixel arrays arrive as base64 of zlib-deflated little-endian data (core/export/viewer.py).
async function inflate(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
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
