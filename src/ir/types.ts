// The intermediate representation: what each proxy listens on, how it routes, and what it
// calls, resolved from the model and free of both zod and Envoy types.

export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface EndpointIR {
  instanceId: string;
  host: string;
  port: number;
  /** IP literal (served over EDS) or DNS name (resolved by Envoy). */
  isIp: boolean;
}

export interface UpstreamIR {
  /** Stable key, also the Envoy cluster name: "users", "users|version=v2", "inbound|users". */
  key: string;
  service: string;
  /** Sorted label pairs of a subset; null for the whole service. */
  subset: ReadonlyArray<readonly [string, string]> | null;
  protocol: Protocol;
  endpoints: EndpointIR[];
  /** The local application behind a sidecar. */
  local: boolean;
  /** mTLS to the service's sidecars, verifying this exact SPIFFE ID; null = plaintext. */
  tls: { serverIdentity: string } | null;
}

export type StringMatchIR =
  | { kind: 'exact' | 'prefix' | 'suffix' | 'contains' | 'regex'; value: string }
  | { kind: 'present' }
  | { kind: 'absent' };

export interface MatchIR {
  path: { kind: 'prefix' | 'exact' | 'regex'; value: string } | null;
  headers: Array<{ name: string; match: StringMatchIR }>;
  query: Array<{ name: string; match: StringMatchIR }>;
  methods: string[] | null;
}

export interface WeightedBackendIR {
  upstream: string;
  weight: number;
}

export interface HttpRouteIR {
  /** Where the route comes from in the model, e.g. "gateways.edge.routes[1]+services.users.routes[0]". */
  origin: string;
  match: MatchIR;
  backends: WeightedBackendIR[];
  rewritePathPrefix: string | null;
  rewriteHost: string | null;
  timeoutMs: number | null;
}

export interface VirtualHostIR {
  name: string;
  domains: string[];
  routes: HttpRouteIR[];
}

export interface BindIR {
  host: string;
  port: number;
}

/** Inbound mTLS: strict refuses plaintext; permissive accepts both on one port. */
export interface InboundTlsIR {
  mode: 'strict' | 'permissive';
  /** Only peers whose SPIFFE ID is in this trust domain are accepted. */
  trustDomain: string;
}

export interface AuthzRuleIR {
  name: string;
  /** SPIFFE IDs allowed by this rule, compared exactly. */
  principals: string[];
  pathPrefix: string | null;
  methods: string[] | null;
}

/** Who may call an inbound listener. No rules: nobody. */
export interface AuthzIR {
  rules: AuthzRuleIR[];
}

export interface HttpListenerIR {
  kind: 'http';
  name: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  bind: BindIR;
  tls: InboundTlsIR | null;
  /** null: no authorization (everyone allowed). */
  authz: AuthzIR | null;
  routeConfigName: string;
  virtualHosts: VirtualHostIR[];
}

export interface TcpListenerIR {
  kind: 'tcp';
  name: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  bind: BindIR;
  tls: InboundTlsIR | null;
  authz: AuthzIR | null;
  upstream: string;
}

export type ListenerIR = HttpListenerIR | TcpListenerIR;

export interface ProxyIR {
  /** Cache group key: "gateway/<name>" or "sidecar/<service>/<instance id>". */
  group: string;
  kind: 'gateway' | 'sidecar';
  /** Gateway name or instance id. */
  name: string;
  service: string | null;
  /** The proxy's SPIFFE ID when mTLS is on; its certificate is served over SDS. */
  identity: string | null;
  adminPort: number | null;
  listeners: ListenerIR[];
  /** Every upstream a listener or route names, sorted by key. */
  upstreams: UpstreamIR[];
  /**
   * How `upstreams` is made when it is a list shared by many proxies plus one of the proxy's
   * own: `upstreams` is `shared` with `own` at its place by key (replacing an entry of the same
   * key). A sidecar's outbound view and its app: translation encodes the shared part once for
   * every sidecar of the view. null: no such structure (gateways, other sidecars).
   */
  upstreamParts: { shared: readonly UpstreamIR[]; own: UpstreamIR } | null;
}

export interface MeshIR {
  trustDomain: string;
  mtls: 'off' | 'permissive' | 'strict';
  certificateTtlMs: number;
  proxies: ProxyIR[];
}

export function gatewayGroup(name: string): string {
  return `gateway/${name}`;
}

export function sidecarGroup(service: string, instanceId: string): string {
  return `sidecar/${service}/${instanceId}`;
}
