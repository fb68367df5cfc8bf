// The xDS listening sockets are meshgate's own (net.Server with a large accept backlog),
// handed to its HTTP/2 server: plaintext and TLS (--xds-tls) both work,
// a host name binds what it resolves to, and closing stops accepting.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadXdsTls, XDS_SERVER_IDENTITY } from '../../src/ca/xds-tls.js';
import { DEFAULT_BACKLOG, parseHostPort } from '../../src/xds/server.js';
import { decodeSotwResponse, encodeSotwRequest, methodPath, SotwStream, type SotwRequest, type SotwResponse } from '../helpers/xds-client.js';
import { harness, nextAndAck, staticCluster, TYPE } from './fixtures.js';

const h = harness();
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** The accept queue length the kernel reports for a listening port (ss's Send-Q), if ss exists. */
function listenBacklog(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
    const cols = out.trim().split(/\s+/);
    return cols.length >= 3 ? Number(cols[2]) : null;
  } catch {
    return null;
  }
}

describe('xDS listener', () => {
  it('listens with a large accept backlog and serves plaintext streams', async () => {
    const srv = await h.start();
    srv.set('node-1', [staticCluster('a', 1)]);
    const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    const backlog = listenBacklog(srv.port);
    if (backlog !== null) expect(backlog).toBe(Math.min(DEFAULT_BACKLOG, somaxconn));
    const s = h.client(srv.address).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    expect((await nextAndAck(s)).names).toEqual(['a']);
  });

  it('serves xDS over TLS with the xDS server certificate; a plaintext client gets nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-xds-tls-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const tls = loadXdsTls(dir);
    const srv = await h.start({ credentials: { keyPem: tls.keyPem, certPem: tls.certPem } });
    srv.set('node-1', [staticCluster('a', 1)]);

    let peerUri = '';
    const client = new grpc.Client(srv.address, grpc.credentials.createSsl(Buffer.from(tls.caPem), null, null, {
      // The certificate names meshgate by URI SAN only (bootstraps match it exactly).
      checkServerIdentity: (_host, cert) => {
        peerUri = cert.subjectaltname ?? '';
        return undefined;
      },
    }));
    cleanup.push(() => client.close());
    const encode = (r: SotwRequest): Buffer => encodeSotwRequest(r);
    const call = client.makeBidiStreamRequest<SotwRequest, SotwResponse>(methodPath('ads', 'sotw'), encode, decodeSotwResponse);
    const s = new SotwStream(call, { id: 'node-1', cluster: 'c1' }, null);
    s.subscribe(TYPE.CLUSTER, []);
    const r = await nextAndAck(s);
    expect(r.names).toEqual(['a']);
    expect(peerUri).toContain(XDS_SERVER_IDENTITY);
    s.cancel();

    const plain = h.client(srv.address).sotw();
    plain.subscribe(TYPE.CLUSTER, []);
    const st = await plain.status(10_000);
    expect(st.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('a host name binds the addresses it resolves to; close stops accepting', async () => {
    const srv = await h.start();
    const port = await (async () => {
      // A second server on "localhost:0" (the harness's is on 127.0.0.1).
      const { XdsServer } = await import('../../src/xds/server.js');
      const { silentLogger } = await import('../../src/util/log.js');
      const other = new XdsServer({ cache: srv.cache, log: silentLogger() });
      const p = await other.listen('localhost:0');
      cleanup.push(() => other.forceClose());
      return { p, other };
    })();
    srv.set('node-1', [staticCluster('a', 1)]);
    const s = h.client(`localhost:${port.p}`).sotw();
    s.subscribe(TYPE.CLUSTER, []);
    expect((await nextAndAck(s)).names).toEqual(['a']);
    await port.other.close(100);
    const refused = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: port.p });
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('parses HOST:PORT and [V6]:PORT; anything else is left to grpc-js', () => {
    expect(parseHostPort('127.0.0.1:18000')).toEqual({ host: '127.0.0.1', port: 18000 });
    expect(parseHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseHostPort('[::1]:18000')).toEqual({ host: '::1', port: 18000 });
    expect(parseHostPort('[::]:1')).toEqual({ host: '::', port: 1 });
    expect(parseHostPort(':18000')).toBeNull();
    expect(parseHostPort('unix:/tmp/x.sock')).toBeNull();
    expect(parseHostPort('host:70000')).toBeNull();
    expect(parseHostPort('::1:18000')).toBeNull();
  });
});
