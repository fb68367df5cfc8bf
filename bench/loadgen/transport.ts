// One ADS stream on its own HTTP/2 connection, two ways:
//
//  http2    node:http2 directly: one session per simulated Envoy, one POST stream, gRPC
//           length-prefixed framing by hand (5-byte header). The default: grpc-js's channel
//           machinery (resolver, load balancer, retries, channelz) per simulated Envoy costs
//           the load generator more CPU than the servers it measures.
//  grpc-js  a grpc-js Client per simulated Envoy (its own subchannel), identity serialisers.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';

export type TransportKind = 'http2' | 'grpc-js';

export interface TransportEvents {
  onMessage(buf: Buffer): void;
  onEnd(status: { code: number; details: string }): void;
}

export interface AdsTransport {
  write(buf: Buffer): void;
  close(): void;
}

/** Envoy's HTTP/2 windows are large (256 MiB by default); do not let a 64 KiB window pace big pushes. */
const WINDOW = 64 * 1024 * 1024;

export function openTransport(kind: TransportKind, target: string, path: string, ev: TransportEvents): AdsTransport {
  return kind === 'grpc-js' ? grpcJs(target, path, ev) : rawHttp2(target, path, ev);
}

function grpcJs(target: string, path: string, ev: TransportEvents): AdsTransport {
  const identity = (b: Buffer): Buffer => b;
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 512 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc-node.flow_control_window': WINDOW,
  });
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(path, identity, identity);
  call.on('data', (b: Buffer) => ev.onMessage(b));
  call.on('error', () => {});
  call.on('status', (s: grpc.StatusObject) => ev.onEnd({ code: s.code, details: s.details }));
  return {
    write: (b) => void call.write(b),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

function rawHttp2(target: string, path: string, ev: TransportEvents): AdsTransport {
  let ended = false;
  const end = (code: number, details: string): void => {
    if (ended) return;
    ended = true;
    ev.onEnd({ code, details });
  };
  const session = http2.connect(`http://${target}`, { settings: { initialWindowSize: WINDOW, enablePush: false } });
  session.on('error', (err) => end(14, err.message));
  session.on('connect', () => {
    try {
      session.setLocalWindowSize(WINDOW);
    } catch {
      /* older Node */
    }
  });
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'meshgate-bench' }, { endStream: false });
  stream.on('error', (err) => end(14, err.message));
  stream.on('response', (headers) => {
    // Trailers-only answer (an error before any message).
    const s = headers['grpc-status'];
    if (s !== undefined) end(Number(s), String(headers['grpc-message'] ?? ''));
  });
  stream.on('trailers', (t) => end(Number(t['grpc-status'] ?? 2), decodeURIComponent(String(t['grpc-message'] ?? ''))));
  stream.on('close', () => end(1, 'stream closed'));
  // gRPC framing: 1 byte compressed flag, 4 bytes big-endian length, the message.
  const chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  const take = (n: number): Buffer => {
    const first = chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) chunks.shift();
      else chunks[0] = first.subarray(n);
      have -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) chunks.shift();
      else chunks[0] = c.subarray(k);
    }
    have -= n;
    return out;
  };
  stream.on('data', (c: Buffer) => {
    chunks.push(c);
    have += c.length;
    for (;;) {
      if (need < 0) {
        if (have < 5) return;
        need = take(5).readUInt32BE(1);
      }
      if (have < need) return;
      const msg = take(need);
      need = -1;
      ev.onMessage(msg);
    }
  });
  return {
    write(b: Buffer) {
      if (ended || stream.destroyed) return;
      const h = Buffer.allocUnsafe(5);
      h[0] = 0;
      h.writeUInt32BE(b.length, 1);
      stream.write(Buffer.concat([h, b]));
    },
    close() {
      ended = true;
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}
