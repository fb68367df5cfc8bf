// The Envoy API proto registry. Protos are loaded from installed npm packages:
// @grpc/grpc-js-xds ships the Envoy API tree (deps/envoy-api, xds, googleapis,
// protoc-gen-validate) and protobufjs ships google/protobuf/*. Messages missing from
// that set (newer extensions) go in the project's own proto/ folder, which is searched first.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Envoy API files meshgate serves or embeds; their imports are loaded transitively. */
export const ENVOY_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/service/accesslog/v3/als.proto',
];

function packageDir(pkg: string): string {
  return path.dirname(require.resolve(`${pkg}/package.json`));
}

/** Include paths in search order. */
export function protoIncludeDirs(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/xds or dist/src/xds → project root
  const candidates = [path.resolve(here, '../../proto'), path.resolve(here, '../../../proto')];
  const own = candidates.filter((d) => fs.existsSync(d));
  const xdsDeps = path.join(packageDir('@grpc/grpc-js-xds'), 'deps');
  return [
    ...own,
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsDeps, d)),
    packageDir('protobufjs'),
  ];
}

let cached: protobuf.Root | undefined;

/** The shared registry (loaded once per process, ~150 ms). Field names keep proto (snake_case) spelling. */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target)) return target;
    for (const d of dirs) {
      const p = path.join(d, target);
      if (fs.existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync([...ENVOY_PROTO_FILES], { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

/** Look up a message type by full name ("envoy.config.cluster.v3.Cluster") or type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  const name = typeNameFromUrl(nameOrUrl);
  let t = typeCache.get(name);
  if (!t) {
    t = protoRoot().lookupType(name);
    typeCache.set(name, t);
  }
  return t;
}

/** Like messageType, but returns undefined for unknown names. */
export function findMessageType(nameOrUrl: string): protobuf.Type | undefined {
  const name = typeNameFromUrl(nameOrUrl);
  const cachedType = typeCache.get(name);
  if (cachedType) return cachedType;
  const found = protoRoot().lookup(name);
  if (found instanceof protobuf.Type) {
    typeCache.set(name, found);
    return found;
  }
  return undefined;
}

export function typeNameFromUrl(url: string): string {
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

export function typeUrlOf(name: string): string {
  return `type.googleapis.com/${typeNameFromUrl(name)}`;
}
