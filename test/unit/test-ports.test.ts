// The e2e helpers' port picker: ports handed to Envoys and demo apps must never be ones the kernel
// can give to a `listen(0)` (meshgate's own listeners in the e2e tests) or to an outgoing
// connection's source port. A CI run once lost an LDS update to exactly that collision.
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts } from '../helpers/ports.js';

const [ephemeralLo, ephemeralHi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];

function listenZero(): Promise<{ srv: net.Server; port: number }> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => resolve({ srv, port: (srv.address() as net.AddressInfo).port }));
  });
}

describe('e2e port picker', () => {
  it('hands out distinct, bindable ports outside the ephemeral range, and not the same ones again', async () => {
    const first = await freePorts(40);
    const second = await freePorts(40);
    const one = await freePort();
    const all = [...first, ...second, one];
    expect(new Set(all).size).toBe(all.length);
    for (const p of all) expect(p >= ephemeralLo && p <= ephemeralHi, `port ${p} is in the ephemeral range ${ephemeralLo}-${ephemeralHi}`).toBe(false);
    // Each is free now: bind them all at once.
    const servers = await Promise.all(
      first.map(
        (port) =>
          new Promise<net.Server>((resolve, reject) => {
            const srv = net.createServer();
            srv.once('error', reject);
            srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(srv));
          }),
      ),
    );
    // What meshgate does in the e2e tests (listen on :0) cannot land on a picked port.
    const zeros = await Promise.all(Array.from({ length: 50 }, () => listenZero()));
    for (const z of zeros) expect(all).not.toContain(z.port);
    await Promise.all([...servers, ...zeros.map((z) => z.srv)].map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  it('skips a port somebody else holds', async () => {
    const [a] = await freePorts(1);
    // Take the next candidates by number; the picker must step over them.
    const taken = await Promise.all(
      [a! + 1, a! + 2].map(
        (port) =>
          new Promise<net.Server | undefined>((resolve) => {
            const srv = net.createServer();
            srv.once('error', () => resolve(undefined));
            srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(srv));
          }),
      ),
    );
    const next = await freePorts(3);
    for (const s of taken) if (s) expect(next).not.toContain((s.address() as net.AddressInfo).port);
    await Promise.all(taken.filter((s): s is net.Server => !!s).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });
});
