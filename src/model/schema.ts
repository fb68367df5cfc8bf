// The model file's shape, in zod. Strict everywhere: an unknown key is an error (with a
// "did you mean" hint added by the diagnostics). Semantic checks that need the whole model
// (references, clashes, shadowing) live in validate.ts.
import { z } from 'zod';

/** Bounds on user input (RELIABILITY 12): sizes and counts that keep validation cheap. */
export const LIMITS = {
  services: 50_000,
  instancesPerService: 1000,
  routesPerService: 500,
  gateways: 1000,
  listenersPerGateway: 50,
  routesPerGateway: 100_000,
  backendsPerRoute: 50,
  headerMatchers: 32,
  regexLength: 1024,
  nameLength: 63,
  labels: 32,
} as const;

const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9._-]*$/;
/** RFC 7230 token: what an HTTP header name may contain. */
export const HEADER_NAME_RE = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST_RE = /^(\*|\*\.[A-Za-z0-9.-]+|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d+)?|[A-Za-z0-9.-]+\.\*)$/;
const DNS_OR_IP_RE = /^(?:[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$|^\[?[0-9a-fA-F:]+\]?$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE'] as const;

export const Name = z
  .string()
  .max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`)
  .regex(NAME_RE, 'a name: lowercase letters, digits and "-", starting and ending with a letter or digit');

export const Port = z.number().int('a whole number').min(1, 'a port from 1 to 65535').max(65535, 'a port from 1 to 65535');

export const HostAddress = z.string().max(253).regex(DNS_OR_IP_RE, 'an IP address or a DNS name');

/** "127.0.0.1:9101" or "app:8080". */
export const HostPort = z
  .string()
  .max(260)
  .refine((s) => {
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s)) return false;
    const p = Number(s.slice(s.lastIndexOf(':') + 1));
    return p >= 1 && p <= 65535;
  }, 'HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:9101');

/** An IP address (Envoy binds listeners to IPs, never to names). */
export const IpAddress = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$|^\[?[0-9a-fA-F:]+\]?$/, 'an IP address (a listener binds to an IP, not a name)');

/** "2s", "250ms", "1m", "1.5s". */
export const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration like 250ms, 2s, 1m, 24h or 30d')
  .transform((s) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s)!;
    const n = Number(m[1]);
    const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Math.round(n * mult);
  });

export const Labels = z
  .record(z.string().regex(LABEL_KEY_RE, 'a label key: letters, digits, ".", "_", "/", "-"'), z.string().max(63).regex(LABEL_VALUE_RE, 'a label value: letters, digits, ".", "_", "-"'))
  .refine((r) => Object.keys(r).length <= LIMITS.labels, `at most ${LIMITS.labels} labels`);

export const Regex = z.string().min(1).max(LIMITS.regexLength, `at most ${LIMITS.regexLength} characters`);

/** A header or query value matcher: a bare string means exact match. */
export const ValueMatch = z.union([
  z.string(),
  z.strictObject({ exact: z.string() }),
  z.strictObject({ prefix: z.string().min(1) }),
  z.strictObject({ suffix: z.string().min(1) }),
  z.strictObject({ contains: z.string().min(1) }),
  z.strictObject({ regex: Regex }),
  z.strictObject({ present: z.literal(true) }),
  z.strictObject({ absent: z.literal(true) }),
]);

const HeaderMap = z
  .record(z.string().regex(HEADER_NAME_RE, 'a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)'), ValueMatch)
  .refine((r) => Object.keys(r).length <= LIMITS.headerMatchers, `at most ${LIMITS.headerMatchers} matchers`);

const QueryMap = z
  .record(z.string().min(1).max(256), ValueMatch)
  .refine((r) => Object.keys(r).length <= LIMITS.headerMatchers, `at most ${LIMITS.headerMatchers} matchers`);

export const Match = z.strictObject({
  pathPrefix: z.string().startsWith('/', 'a path starting with "/"').optional(),
  path: z.string().startsWith('/', 'a path starting with "/"').optional(),
  pathRegex: Regex.optional(),
  headers: HeaderMap.optional(),
  queryParams: QueryMap.optional(),
  methods: z.array(z.enum(METHODS)).min(1).max(METHODS.length).optional(),
});

export const Backend = z.strictObject({
  service: Name.optional(),
  subset: Labels.optional(),
  weight: z.number().int('a whole number').min(0).max(1_000_000).optional(),
});

export const Rewrite = z.strictObject({
  pathPrefix: z.string().startsWith('/', 'a path starting with "/"').optional(),
  host: z.string().min(1).max(253).optional(),
});

/** A route in a service: applies to every caller of the service. */
export const ServiceRoute = z.strictObject({
  name: z.string().max(128).optional(),
  match: Match.optional(),
  backends: z.array(Backend).min(1).max(LIMITS.backendsPerRoute),
  timeout: Duration.optional(),
});

export const Instance = z.strictObject({
  id: Name,
  address: HostAddress,
  port: Port,
  app: HostPort,
  outboundPort: Port.optional(),
  labels: Labels.optional(),
  bind: IpAddress.optional(),
  adminPort: Port.optional(),
  /** Local ports on which this instance's app reaches tcp services: { <service>: <port> }. */
  tcpOutbound: z.record(Name, Port).optional(),
});

export const Protocol = z.enum(['http', 'http2', 'grpc', 'tcp']);

/** Who may call a service: callers (services and/or gateways), optionally narrowed. */
export const AllowRule = z.strictObject({
  services: z.array(Name).min(1).max(1000).optional(),
  gateways: z.array(Name).min(1).max(100).optional(),
  pathPrefix: z.string().startsWith('/', 'a path starting with "/"').optional(),
  methods: z.array(z.enum(METHODS)).min(1).max(METHODS.length).optional(),
});

export const Service = z.strictObject({
  protocol: Protocol.default('http'),
  instances: z.array(Instance).min(1, 'at least one instance').max(LIMITS.instancesPerService),
  routes: z.array(ServiceRoute).max(LIMITS.routesPerService).optional(),
  timeout: Duration.optional(),
  /** Authorization: who may call this service. Absent: the mesh's defaultPolicy applies. */
  allow: z.array(AllowRule).max(100).optional(),
});

export const GatewayListener = z.strictObject({
  name: Name,
  port: Port,
  protocol: z.enum(['http', 'tcp']).default('http'),
  address: IpAddress.optional(),
  hosts: z.array(z.string().max(253).regex(HOST_RE, 'a host name, "*", "*.example.com" or "example.*"')).min(1).max(100).optional(),
  backend: Name.optional(),
});

export const GatewayRoute = z.strictObject({
  name: z.string().max(128).optional(),
  listeners: z.array(Name).min(1).optional(),
  match: Match.optional(),
  backend: Name.optional(),
  backends: z.array(Backend).min(1).max(LIMITS.backendsPerRoute).optional(),
  rewrite: Rewrite.optional(),
  timeout: Duration.optional(),
});

export const Gateway = z.strictObject({
  listeners: z.array(GatewayListener).min(1, 'at least one listener').max(LIMITS.listenersPerGateway),
  routes: z.array(GatewayRoute).max(LIMITS.routesPerGateway).optional(),
  adminPort: Port.optional(),
});

export const Mesh = z.strictObject({
  trustDomain: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'a trust domain: lowercase letters, digits, "." and "-"')
    .default('meshgate.local'),
  mtls: z.enum(['off', 'permissive', 'strict']).default('off'),
  /** Lifetime of workload certificates; renewed at half of it. */
  certificateTtl: Duration.default(86_400_000),
  /** Authorization for services without an `allow` list. */
  defaultPolicy: z.enum(['allow', 'deny']).default('allow'),
});

/**
 * Names are looked up as keys (`services[name]`): maps without a prototype, so that a reference
 * to "constructor" (a valid name) finds nothing unless a service of that name exists.
 */
function withoutPrototype<T>(r: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, r);
}

export const ModelSchema = z.strictObject({
  version: z.literal(1, 'the model format version: 1'),
  mesh: Mesh.default({ trustDomain: 'meshgate.local', mtls: 'off', certificateTtl: 86_400_000, defaultPolicy: 'allow' }),
  services: z
    .record(Name, Service)
    .refine((r) => Object.keys(r).length <= LIMITS.services, `at most ${LIMITS.services} services`)
    .default({})
    .transform(withoutPrototype),
  gateways: z
    .record(Name, Gateway)
    .refine((r) => Object.keys(r).length <= LIMITS.gateways, `at most ${LIMITS.gateways} gateways`)
    .default({})
    .transform(withoutPrototype),
});

export type Model = z.output<typeof ModelSchema>;
export type ServiceModel = z.output<typeof Service>;
export type InstanceModel = z.output<typeof Instance>;
export type GatewayModel = z.output<typeof Gateway>;
export type MatchModel = z.output<typeof Match>;
export type BackendModel = z.output<typeof Backend>;
export type ValueMatchModel = z.output<typeof ValueMatch>;
export type GatewayRouteModel = z.output<typeof GatewayRoute>;
export type ServiceRouteModel = z.output<typeof ServiceRoute>;
export type AllowRuleModel = z.output<typeof AllowRule>;
