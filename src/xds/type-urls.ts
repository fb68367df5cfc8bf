// The five xDS resource types meshgate serves, their short names and their order in ADS.

export const TYPE = {
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ENDPOINT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  SECRET: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];

/** ADS push order: clusters before their endpoints, listeners before their routes, then secrets. */
export const ADS_ORDER: readonly TypeUrl[] = [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.LISTENER, TYPE.ROUTE, TYPE.SECRET];

export const SHORT_NAME: Record<TypeUrl, string> = {
  [TYPE.CLUSTER]: 'CDS',
  [TYPE.ENDPOINT]: 'EDS',
  [TYPE.LISTENER]: 'LDS',
  [TYPE.ROUTE]: 'RDS',
  [TYPE.SECRET]: 'SDS',
};

/** Types where an empty first subscription means "everything" (legacy wildcard). */
export const WILDCARD_BY_DEFAULT: ReadonlySet<string> = new Set([TYPE.CLUSTER, TYPE.LISTENER]);

export function isServedType(url: string): url is TypeUrl {
  return Object.prototype.hasOwnProperty.call(SHORT_NAME, url);
}

export function shortName(url: string): string {
  return isServedType(url) ? SHORT_NAME[url] : url;
}

/** gRPC services on the xDS port: ADS plus one per type, each with a SotW and a Delta method. */
export const DISCOVERY_SERVICES: ReadonlyArray<{
  service: string;
  sotw: string;
  delta: string;
  typeUrl: TypeUrl | null; // null = aggregated (any type)
}> = [
  { service: 'envoy.service.discovery.v3.AggregatedDiscoveryService', sotw: 'StreamAggregatedResources', delta: 'DeltaAggregatedResources', typeUrl: null },
  { service: 'envoy.service.listener.v3.ListenerDiscoveryService', sotw: 'StreamListeners', delta: 'DeltaListeners', typeUrl: TYPE.LISTENER },
  { service: 'envoy.service.route.v3.RouteDiscoveryService', sotw: 'StreamRoutes', delta: 'DeltaRoutes', typeUrl: TYPE.ROUTE },
  { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', sotw: 'StreamClusters', delta: 'DeltaClusters', typeUrl: TYPE.CLUSTER },
  { service: 'envoy.service.endpoint.v3.EndpointDiscoveryService', sotw: 'StreamEndpoints', delta: 'DeltaEndpoints', typeUrl: TYPE.ENDPOINT },
  { service: 'envoy.service.secret.v3.SecretDiscoveryService', sotw: 'StreamSecrets', delta: 'DeltaSecrets', typeUrl: TYPE.SECRET },
];
