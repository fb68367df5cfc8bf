// Sidecar configuration is built when a proxy of the group connects, not at every load: a mesh
// of thousands of instances costs a control plane only what its connected proxies need.
// Gateways are built at every load. A group built once is rebuilt by every reload after.
// Certificates of sidecars not connected yet are issued ahead while idle (bounded).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshgateApp } from '../../src/app/meshgate-app.js';
import { ModelSource } from '../../src/app/model-source.js';
import { MeshSecurity } from '../../src/app/security.js';
import { NodeTokens, TOKEN_METADATA_KEY } from '../../src/ca/node-token.js';
import { silentLogger } from '../../src/util/log.js';
import { TYPE, XdsTestClient } from '../helpers/xds-client.js';

const BASE = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples/mesh.yaml'), 'utf8');
let dir: string;
let file: string;
let app: MeshgateApp;
let security: MeshSecurity;
let xds: string;
const clients: XdsTestClient[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-ondemand-'));
  file = path.join(dir, 'mesh.yaml');
  fs.writeFileSync(file, BASE);
  security = new MeshSecurity({ stateDir: null, log: silentLogger() });
  app = new MeshgateApp({ source: new ModelSource(file, security), security, xdsListen: '127.0.0.1:0', adminListen: '127.0.0.1:0', log: silentLogger(), watch: false });
  const { xdsPort } = await app.start();
  xds = `127.0.0.1:${xdsPort}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function token(tokens: NodeTokens, identity: string): string {
  return tokens.issue(identity, 3_600_000);
}

describe('on-demand sidecar configuration', () => {
  it('builds only gateways at load; sidecar certificates are issued ahead while idle', async () => {
    expect(app.cache.groups()).toEqual(['gateway/edge']);
    const end = Date.now() + 10_000;
    while (security.certs.size < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(security.certs.list().map((c) => c.group)).toEqual(['gateway/edge', 'sidecar/orders/orders-a', 'sidecar/users/users-v1-a', 'sidecar/users/users-v2-a']);
    expect(app.cache.groups()).toEqual(['gateway/edge']); // certificates only: no snapshot built
  });

  it('builds a sidecar group when its proxy connects, with the certificate issued ahead, and serves it', async () => {
    const issued = security.certs.issued;
    const serial = security.certs.list().find((c) => c.group === 'sidecar/orders/orders-a')!.serial;
    const c = new XdsTestClient(xds);
    clients.push(c);
    const s = c.sotw('ads', null);
    s.send({
      type_url: TYPE.CLUSTER,
      node: { id: 'orders-a', cluster: 'orders', metadata: { fields: { [TOKEN_METADATA_KEY]: { string_value: token(security.tokens, 'spiffe://meshgate.local/service/orders') } } } },
    });
    const cds = await s.next();
    expect(cds.resources.map((r) => r.name)).toContain('inbound|orders');
    expect(app.cache.groups()).toEqual(['gateway/edge', 'sidecar/orders/orders-a']);
    expect(security.certs.issued).toBe(issued);
    expect(security.certs.list().find((c) => c.group === 'sidecar/orders/orders-a')!.serial).toBe(serial);
  });

  it('rebuilds the groups built so far on reload, and only those', async () => {
    const text = BASE.replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50');
    fs.writeFileSync(file, text);
    const rec = app.reload();
    expect(rec.ok).toBe(true);
    expect(rec.changedGroups).toEqual(['gateway/edge', 'sidecar/orders/orders-a']);
    expect(app.cache.groups()).toEqual(['gateway/edge', 'sidecar/orders/orders-a']);
  });

  it('a proxy that connects before its instance is in the model gets its configuration when a load adds the instance', async () => {
    const c = new XdsTestClient(xds);
    clients.push(c);
    const s = c.sotw('ads', null);
    s.send({
      type_url: TYPE.CLUSTER,
      node: { id: 'orders-b', cluster: 'orders', metadata: { fields: { [TOKEN_METADATA_KEY]: { string_value: token(security.tokens, 'spiffe://meshgate.local/service/orders') } } } },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(s.received.length).toBe(0);
    expect(app.cache.groups()).not.toContain('sidecar/orders/orders-b');
    const line = '      - { id: orders-a, address: 127.0.0.1, port: 15111, app: 127.0.0.1:9111, outboundPort: 15211, adminPort: 9921 }\n';
    const text = fs.readFileSync(file, 'utf8').replace(line, line + line.replace('orders-a', 'orders-b').replace('15111', '15112').replace('9111', '9112').replace('15211', '15212').replace('9921', '9922'));
    fs.writeFileSync(file, text);
    expect(app.reload().ok).toBe(true);
    const cds = await s.next();
    expect(cds.resources.map((r) => r.name)).toContain('inbound|orders');
    expect(app.cache.groups()).toContain('sidecar/orders/orders-b');
  });

  it("an instance removed from the model loses its certificate; an edit that keeps every group keeps every certificate", async () => {
    const end = Date.now() + 10_000;
    while (!security.certs.list().some((c) => c.group === 'sidecar/orders/orders-b') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const before = security.certs.list().map((c) => c.group);
    expect(before).toContain('sidecar/orders/orders-b');
    // An edit that keeps every group: nothing is dropped.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('weight: 50', 'weight: 40').replace('weight: 50', 'weight: 60'));
    expect(app.reload().ok).toBe(true);
    expect(security.certs.list().map((c) => c.group)).toEqual(before);
    // orders-b leaves the model: its certificate is forgotten.
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.includes('id: orders-b'))!;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(`${line}\n`, ''));
    expect(app.reload().ok).toBe(true);
    expect(security.certs.list().map((c) => c.group)).toEqual(before.filter((g) => g !== 'sidecar/orders/orders-b'));
  });

  it('a node that matches no group builds nothing', () => {
    const before = app.cache.groups();
    expect(app.cache.getOrBuild('sidecar/orders/nope')).toBeUndefined();
    expect(app.cache.groups()).toEqual(before);
    expect(before).not.toContain('sidecar/orders/nope');
  });
});
