// HTTP/2 frames (RFC 9113 section 4 and 6): types, flags, error codes, settings identifiers and
// defaults, and the buffers meshgate writes them into.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

export const H2Error = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

export const SETTINGS_ENABLE_PUSH = 2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 4;
export const SETTINGS_MAX_FRAME_SIZE = 5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 6;

export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
/** A write's callback: once its bytes are handed to the socket, or with the error that lost them. */
export type Done = (err?: Error | null) => void;

/**
 * Buffers for outgoing frames, cut from slabs: a push to 2000 proxies is 2000 buffers of a few
 * KB, each of which would otherwise be an ArrayBuffer of its own (above half of Node's pool).
 */
const SLAB_SIZE = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;
export function outBuffer(n: number): Buffer {
  if (n > SLAB_SIZE / 8) return Buffer.allocUnsafeSlow(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  const b = slab.subarray(slabUsed, slabUsed + n);
  // Keep each buffer 8-byte aligned.
  slabUsed += (n + 7) & ~7;
  return b;
}

export function writeFrameHead(buf: Buffer, off: number, length: number, type: number, flags: number, streamId: number): void {
  buf[off] = (length >>> 16) & 0xff;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = type;
  buf[off + 4] = flags;
  buf.writeUInt32BE(streamId & 0x7fffffff, off + 5);
}

export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const n = payload ? payload.length : 0;
  const b = Buffer.allocUnsafe(9 + n);
  writeFrameHead(b, 0, n, type, flags, streamId);
  if (payload) payload.copy(b, 9);
  return b;
}
