// The floor under every push to thousands of proxies: what one push and its answer cost a
// Node server on one core when the server does nothing else. N connections (a child process on
// the other core is the N peers); each round the server writes a 2.6 KB message to every
// connection and waits until every peer has answered with 200 bytes (the size of an xDS
// response and of its ACK in S3). Measured over R rounds: the server's CPU per push and answer
// (user and system apart) and the wall time of a round, for
//   tcp:   plain TCP sockets (net), no framing at all: the kernel's share and libuv's;
//   http2: one HTTP/2 stream per connection (node:http2), messages written to and read from
//          the stream: what Node's HTTP/2 (nghttp2 and its JavaScript) adds to that.
// bench/xds-transport.ts measures the same pattern through meshgate's xDS server (gRPC framing,
// the xDS streams and the snapshot cache on top): the three figures together say which part
// of a push costs what.
//
//   node --import tsx bench/transport-floor.ts [--connections 2000] [--rounds 40] [--runs 3] [--only tcp|http2]
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canPin, pinSelf } from './lib/servers.js';

const PUSH_BYTES = 2600;
const ANSWER_BYTES = 200;

const { values } = parseArgs({
  options: {
    peer: { type: 'string' },
    port: { type: 'string' },
    connections: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '40' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const N = Number(values.connections);

/** Counts bytes and calls `each` once per whole message of `size` bytes. */
function counter(size: number, each: () => void): (chunk: Buffer) => void {
  let got = 0;
  return (chunk) => {
    got += chunk.length;
    while (got >= size) {
      got -= size;
      each();
    }
  };
}

/** The peers: N connections that answer every whole push with one answer. */
function runPeers(kind: string, port: number): void {
  const answer = Buffer.alloc(ANSWER_BYTES, 1);
  let open = 0;
  const opened = (): void => {
    if (++open === N) process.send!('ready');
  };
  for (let i = 0; i < N; i++) {
    if (kind === 'tcp') {
      const s = net.connect(port, '127.0.0.1', opened);
      s.setNoDelay(true);
      s.on('data', counter(PUSH_BYTES, () => s.write(answer)));
    } else {
      // A large receive window: the pushes of every round fit without WINDOW_UPDATE round trips.
      const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 30 } });
      session.on('connect', () => session.setLocalWindowSize(1 << 30));
      const st = session.request({ ':method': 'POST', ':path': '/floor', 'content-type': 'application/grpc' }, { endStream: false });
      st.on('response', opened);
      st.on('data', counter(PUSH_BYTES, () => st.write(answer)));
    }
  }
}

interface Result {
  kind: string;
  usPerPush: number;
  userUs: number;
  systemUs: number;
  roundMs: number;
}

async function measure(kind: 'tcp' | 'http2'): Promise<Result> {
  const conns: Array<{ write(b: Buffer): unknown }> = [];
  let answers = 0;
  let roundDone: (() => void) | null = null;
  const onAnswer = (): void => {
    if (++answers === N) roundDone?.();
  };
  let server: net.Server | http2.Http2Server;
  if (kind === 'tcp') {
    server = net.createServer((s) => {
      s.setNoDelay(true);
      conns.push(s);
      s.on('data', counter(ANSWER_BYTES, onAnswer));
    });
  } else {
    const h2 = http2.createServer({ settings: { initialWindowSize: 1 << 30 } });
    h2.on('session', (session) => session.on('connect', () => session.setLocalWindowSize(1 << 30)));
    h2.on('stream', (st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc' });
      conns.push(st);
      st.on('data', counter(ANSWER_BYTES, onAnswer));
    });
    server = h2;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const self = fileURLToPath(import.meta.url);
  const argv = [process.execPath, ...process.execArgv, self, '--peer', kind, '--port', String(port), '--connections', String(N)];
  const peer = canPin() ? spawn('taskset', ['-c', '1', ...argv], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    peer.once('message', () => resolve());
    peer.once('exit', (code) => reject(new Error(`peers exited (${code}) before connecting`)));
  });
  await new Promise((r) => setTimeout(r, 500)); // settle (the last SETTINGS and window updates)
  const push = Buffer.alloc(PUSH_BYTES, 2);
  const rounds = Number(values.rounds);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    answers = 0;
    const done = new Promise<void>((resolve) => (roundDone = resolve));
    for (const c of conns) c.write(push);
    await done;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  peer.kill();
  server.close();
  for (const c of conns) (c as net.Socket | http2.ServerHttp2Stream).destroy();
  const pushes = rounds * N;
  return { kind, usPerPush: (cpu.user + cpu.system) / pushes, userUs: cpu.user / pushes, systemUs: cpu.system / pushes, roundMs: ms / rounds };
}

async function main(): Promise<void> {
  if (values.peer) {
    runPeers(values.peer, Number(values.port));
    return;
  }
  const pinned = pinSelf('0');
  const kinds = (values.only ? [values.only] : ['tcp', 'http2']) as Array<'tcp' | 'http2'>;
  process.stdout.write(`transport floor: ${N} connections, ${values.rounds} rounds of a ${PUSH_BYTES}-byte push and a ${ANSWER_BYTES}-byte answer each; server ${pinned ? 'on core 0, peers on core 1' : 'not pinned'}\n`);
  const all: Result[] = [];
  for (let run = 1; run <= Number(values.runs); run++) {
    for (const kind of kinds) {
      const r = await measure(kind);
      all.push(r);
      process.stdout.write(`run ${run} ${kind.padEnd(5)}: ${r.usPerPush.toFixed(1)} µs of server CPU per push and answer (user ${r.userUs.toFixed(1)}, system ${r.systemUs.toFixed(1)}); a round of ${N} ${r.roundMs.toFixed(1)} ms\n`);
      await new Promise((res) => setTimeout(res, 300));
    }
  }
  for (const kind of kinds) {
    const xs = all.filter((r) => r.kind === kind).map((r) => r.usPerPush).sort((a, b) => a - b);
    process.stdout.write(`median ${kind}: ${xs[Math.floor(xs.length / 2)]!.toFixed(1)} µs per push and answer\n`);
  }
  process.exit(0);
}

await main();
