// IR → Envoy resources, per proxy. Pure and deterministic. Identical resources (the same
// cluster in every sidecar, an unchanged route after an edit) are encoded once: the encoder
// memoises by content and keeps only what the latest build used.
import type { MeshIR, ProxyIR } from '../ir/types.js';
import { type Resource, resourceFromJson } from '../xds/resource.js';
import { TYPE, type TypeUrl } from '../xds/type-urls.js';
import { translateCluster, usesEds } from './cluster.js';
import { loadAssignment } from './endpoint.js';
import { translateListener } from './listener.js';
import { translateRouteConfig } from './route.js';

export class ResourceEncoder {
  private current = new Map<string, Resource>();
  private previous = new Map<string, Resource>();

  encode(typeUrl: TypeUrl, json: Record<string, unknown>): Resource {
    const key = `${typeUrl}\n${JSON.stringify(json)}`;
    let r = this.current.get(key);
    if (r) return r;
    r = this.previous.get(key) ?? resourceFromJson(typeUrl, json);
    this.current.set(key, r);
    return r;
  }

  /** Start a build: what the previous build used stays reusable; older entries are dropped. */
  beginBuild(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  get size(): number {
    return this.current.size;
  }
}

export function translateProxy(p: ProxyIR, enc: ResourceEncoder): Resource[] {
  const out: Resource[] = [];
  for (const u of p.upstreams) {
    out.push(enc.encode(TYPE.CLUSTER, translateCluster(u)));
    if (usesEds(u)) out.push(enc.encode(TYPE.ENDPOINT, loadAssignment(u)));
  }
  for (const l of p.listeners) {
    out.push(enc.encode(TYPE.LISTENER, translateListener(l)));
    if (l.kind === 'http') out.push(enc.encode(TYPE.ROUTE, translateRouteConfig(l)));
  }
  return out;
}

export function translateMesh(ir: MeshIR, enc: ResourceEncoder): Map<string, Resource[]> {
  enc.beginBuild();
  const out = new Map<string, Resource[]>();
  for (const p of ir.proxies) out.set(p.group, translateProxy(p, enc));
  return out;
}
