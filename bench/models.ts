// Model generators for the benchmark scenarios (PERFORMANCE.md). Every address is made up
// (10.x.y.z), so nothing is ever bound: the benchmark only talks xDS.
//
// Shapes (see bench/README.md for why):
//
//  gatewayMesh (M1k, M10k; S1, S4, S5): services with N instances each (each instance is an
//    inbound-only sidecar: no outboundPort) and one gateway "edge" with one HTTP listener and
//    one route per cluster. mTLS strict.
//      M1k  = 1000 services × 10 instances, 1000 gateway routes (route i → service si):
//             1000 clusters, 1000 ClusterLoadAssignments × 10 endpoints, 1000 routes,
//             10 000 sidecars + 1 gateway.
//      M10k = 10× that: 10 000 services × 10 instances, 10 000 routes: 10 000 clusters,
//             10 000 assignments × 10 endpoints, 100 000 sidecars + 1 gateway.
//    (gatewayMesh with subsets > 1 labels instances version v1..vK and routes to each
//    (service, version) subset instead: the same xDS counts from fewer services.)
//  sidecarMesh (S2, S3): 2000 sidecars with ~50 clusters, 50 routes, 500 endpoints each.
//      50 services × 40 instances (2000 sidecars), each instance labelled shard 0..3; every
//      service has one catch-all route to its shard-0 subset (10 instances). Every sidecar
//      has an outbound listener with one virtual host per service, so each receives:
//      51 clusters (50 subsets + its inbound app), 50 assignments × 10 endpoints = 500
//      endpoints, route configurations "outbound" (50 virtual hosts, 50 routes) and
//      "inbound", 2 listeners, 2 secrets (identity + trust bundle). mTLS strict.
import type { z } from 'zod';
import type { ModelSchema } from '../src/model/schema.js';

export type ModelInput = z.input<typeof ModelSchema>;

export interface GenInstance {
  id: string;
  address: string;
  port: number;
  app: string;
  outboundPort?: number;
  labels?: Record<string, string>;
}

export interface GenRoute {
  name?: string;
  match?: Record<string, unknown>;
  backend?: string;
  backends?: Array<{ service?: string; subset?: Record<string, string>; weight?: number }>;
  timeout?: string;
}

export interface GenService {
  protocol?: 'http' | 'http2' | 'grpc' | 'tcp';
  timeout?: string;
  instances: GenInstance[];
  routes?: GenRoute[];
}

export interface GenGateway {
  listeners: Array<{ name: string; port: number; protocol?: 'http' | 'tcp'; hosts?: string[] }>;
  routes: GenRoute[];
}

/** What a simulated proxy presents, and which group (meshgate and export) it belongs to. */
export interface ProxyPlan {
  kind: 'gateway' | 'sidecar';
  /** Node id: the instance id, or the gateway name (the export's node id for the group). */
  nodeId: string;
  /** Node cluster: the service, or the gateway name. */
  cluster: string;
  /** SPIFFE ID (with mTLS): what the identity token must name. */
  identity: string | null;
  /** meshgate's cache group. */
  group: string;
}

/**
 * A generated model, editable in place. The YAML text is emitted per service and cached, so
 * rewriting a big model after a one-service change costs only that service's text.
 */
export class ModelDoc {
  private readonly chunks = new Map<string, string>();
  private gatewayChunk: string | null = null;

  constructor(
    readonly name: string,
    readonly mesh: { trustDomain: string; mtls: 'off' | 'permissive' | 'strict' },
    readonly services: Map<string, GenService>,
    readonly gateways: Map<string, GenGateway>,
  ) {}

  /** Mark a service's text stale after editing it in place. */
  touchService(name: string): void {
    this.chunks.delete(name);
  }

  touchGateways(): void {
    this.gatewayChunk = null;
  }

  addService(name: string, svc: GenService): void {
    this.services.set(name, svc);
  }

  private serviceText(name: string, s: GenService): string {
    let t = this.chunks.get(name);
    if (t !== undefined) return t;
    const lines = [`  ${name}:`];
    if (s.protocol) lines.push(`    protocol: ${s.protocol}`);
    if (s.timeout) lines.push(`    timeout: ${s.timeout}`);
    lines.push('    instances:');
    for (const i of s.instances) lines.push(`      - ${JSON.stringify(i)}`);
    if (s.routes?.length) {
      lines.push('    routes:');
      for (const r of s.routes) lines.push(`      - ${JSON.stringify(r)}`);
    }
    t = lines.join('\n') + '\n';
    this.chunks.set(name, t);
    return t;
  }

  private gatewaysText(): string {
    if (this.gatewayChunk !== null) return this.gatewayChunk;
    const lines: string[] = [];
    if (this.gateways.size) {
      lines.push('gateways:');
      for (const [name, g] of this.gateways) {
        lines.push(`  ${name}:`, '    listeners:');
        for (const l of g.listeners) lines.push(`      - ${JSON.stringify(l)}`);
        if (g.routes.length) {
          lines.push('    routes:');
          for (const r of g.routes) lines.push(`      - ${JSON.stringify(r)}`);
        }
      }
    }
    this.gatewayChunk = lines.length ? lines.join('\n') + '\n' : '';
    return this.gatewayChunk;
  }

  /** The model as YAML (flow-style JSON values inside block YAML). */
  text(): string {
    const parts = [`# generated by bench/models.ts: ${this.name}\nversion: 1\nmesh:\n  trustDomain: ${this.mesh.trustDomain}\n  mtls: ${this.mesh.mtls}\nservices:\n`];
    for (const [name, s] of this.services) parts.push(this.serviceText(name, s));
    parts.push(this.gatewaysText());
    return parts.join('');
  }

  /** Every proxy of the model, sidecars first (service order, instance order), then gateways. */
  proxies(): ProxyPlan[] {
    const td = this.mesh.trustDomain;
    const mtls = this.mesh.mtls !== 'off';
    const out: ProxyPlan[] = [];
    for (const [svc, s] of this.services) {
      for (const i of s.instances) {
        out.push({ kind: 'sidecar', nodeId: i.id, cluster: svc, identity: mtls ? `spiffe://${td}/service/${svc}` : null, group: `sidecar/${svc}/${i.id}` });
      }
    }
    for (const gw of this.gateways.keys()) {
      out.push({ kind: 'gateway', nodeId: gw, cluster: gw, identity: mtls ? `spiffe://${td}/gateway/${gw}` : null, group: `gateway/${gw}` });
    }
    return out;
  }

  /** The gateway proxy of `name` (replicas share it: same node id and cluster). */
  gatewayProxy(name = 'edge'): ProxyPlan {
    const p = this.proxies().find((x) => x.kind === 'gateway' && x.nodeId === name);
    if (!p) throw new Error(`no gateway ${name} in ${this.name}`);
    return p;
  }

  counts(): { services: number; instances: number; gatewayRoutes: number } {
    let instances = 0;
    for (const s of this.services.values()) instances += s.instances.length;
    let gatewayRoutes = 0;
    for (const g of this.gateways.values()) gatewayRoutes += g.routes.length;
    return { services: this.services.size, instances, gatewayRoutes };
  }
}

let ipCounter = 0;

/** 10.x.y.z addresses, unique within one model (the counter restarts per model). */
function ipFor(n: number): string {
  const v = n + 1;
  return `10.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
}

export const INBOUND_PORT = 15000;
export const APP = '127.0.0.1:8080';
export const OUTBOUND_PORT = 15001;

export interface GatewayMeshSpec {
  name: string;
  services: number;
  instancesPerService: number;
  /** 1: routes go to whole services; 2+: instances are labelled version v1..vK and each route goes to one (service, version) subset. */
  subsets: number;
  mtls?: 'off' | 'permissive' | 'strict';
}

/** Services behind one gateway "edge"; one route per (service, subset). */
export function gatewayMesh(spec: GatewayMeshSpec): ModelDoc {
  ipCounter = 0;
  const services = new Map<string, GenService>();
  const routes: GenRoute[] = [];
  for (let s = 0; s < spec.services; s++) {
    const name = `s${s}`;
    const instances: GenInstance[] = [];
    for (let i = 0; i < spec.instancesPerService; i++) {
      const inst: GenInstance = { id: `${name}-${i}`, address: ipFor(ipCounter++), port: INBOUND_PORT, app: APP };
      if (spec.subsets > 1) inst.labels = { version: `v${(i % spec.subsets) + 1}` };
      instances.push(inst);
    }
    services.set(name, { instances });
    if (spec.subsets > 1) {
      for (let v = 1; v <= spec.subsets; v++) {
        routes.push({ name: `r-${name}-v${v}`, match: { pathPrefix: `/${name}/v${v}/` }, backends: [{ service: name, subset: { version: `v${v}` } }] });
      }
    } else {
      routes.push({ name: `r-${name}`, match: { pathPrefix: `/${name}/` }, backend: name });
    }
  }
  const gateways = new Map<string, GenGateway>([['edge', { listeners: [{ name: 'public', port: 8080, protocol: 'http', hosts: ['*'] }], routes }]]);
  return new ModelDoc(spec.name, { trustDomain: 'bench.local', mtls: spec.mtls ?? 'strict' }, services, gateways);
}

export interface SidecarMeshSpec {
  name: string;
  services: number;
  instancesPerService: number;
  /** Instances are labelled shard 0..shards-1; each service routes to its shard-0 subset. */
  shards: number;
  mtls?: 'off' | 'permissive' | 'strict';
}

function sidecarService(name: string, spec: SidecarMeshSpec): GenService {
  const instances: GenInstance[] = [];
  for (let i = 0; i < spec.instancesPerService; i++) {
    instances.push({ id: `${name}-${i}`, address: ipFor(ipCounter++), port: INBOUND_PORT, app: APP, outboundPort: OUTBOUND_PORT, labels: { shard: String(i % spec.shards) } });
  }
  return { instances, routes: [{ name: 'default', backends: [{ subset: { shard: '0' } }] }] };
}

/** Sidecars that all call every service (S2/S3 shape). */
export function sidecarMesh(spec: SidecarMeshSpec): ModelDoc {
  ipCounter = 0;
  const services = new Map<string, GenService>();
  for (let s = 0; s < spec.services; s++) services.set(`s${s}`, sidecarService(`s${s}`, spec));
  const doc = new ModelDoc(spec.name, { trustDomain: 'bench.local', mtls: spec.mtls ?? 'strict' }, services, new Map());
  sidecarSpecs.set(doc, spec);
  return doc;
}

const sidecarSpecs = new WeakMap<ModelDoc, SidecarMeshSpec>();

// ---------------------------------------------------------------------------------------
// Edits (each is what a user would change in the file)

/** S3 "edit one route": set the timeout of service `svc`'s route (RDS changes for every caller). */
export function editRouteTimeout(doc: ModelDoc, svc: string, timeout: string): void {
  const s = doc.services.get(svc);
  if (!s?.routes?.[0]) throw new Error(`no route in service ${svc}`);
  s.routes[0].timeout = timeout;
  doc.touchService(svc);
}

/** S3 "add one service": a new service of the same shape (new cluster, assignment, virtual host for every caller). */
export function addSidecarService(doc: ModelDoc): string {
  const spec = sidecarSpecs.get(doc);
  if (!spec) throw new Error('addSidecarService needs a sidecarMesh model');
  const name = `s${doc.services.size}`;
  let base = 0;
  for (const s of doc.services.values()) base += s.instances.length;
  ipCounter = base;
  doc.addService(name, sidecarService(name, spec));
  return name;
}

/** S4: move instance `i` of service `svc` to another port (its endpoint, and its sidecar's inbound listener, change). */
export function setInstancePort(doc: ModelDoc, svc: string, i: number, port: number): void {
  const inst = doc.services.get(svc)?.instances[i];
  if (!inst) throw new Error(`no instance ${i} in ${svc}`);
  inst.port = port;
  doc.touchService(svc);
}

/** S5 "change one cluster": a service's protocol (its clusters gain HTTP/2 options). */
export function setServiceProtocol(doc: ModelDoc, svc: string, protocol: 'http' | 'http2'): void {
  const s = doc.services.get(svc);
  if (!s) throw new Error(`no service ${svc}`);
  if (protocol === 'http') delete s.protocol;
  else s.protocol = protocol;
  doc.touchService(svc);
}

// ---------------------------------------------------------------------------------------
// The scenario sizes

export const M1K: GatewayMeshSpec = { name: 'M1k', services: 1000, instancesPerService: 10, subsets: 1 };
export const M10K: GatewayMeshSpec = { name: 'M10k', services: 10_000, instancesPerService: 10, subsets: 1 };
export const S2_MESH: SidecarMeshSpec = { name: 'S2-mesh', services: 50, instancesPerService: 40, shards: 4 };

/** Tiny versions for `bench:smoke` and the vitest smoke test. */
export const SMOKE_M1K: GatewayMeshSpec = { name: 'M1k-smoke', services: 20, instancesPerService: 2, subsets: 1 };
export const SMOKE_M10K: GatewayMeshSpec = { name: 'M10k-smoke', services: 40, instancesPerService: 2, subsets: 1 };
export const SMOKE_S2_MESH: SidecarMeshSpec = { name: 'S2-mesh-smoke', services: 5, instancesPerService: 4, shards: 2 };
