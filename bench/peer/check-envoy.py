#!/usr/bin/env python3
# Compares what a real Envoy holds (admin /config_dump and version_text stats) with what the
# peer holds for its node (control GET /snapshot?node=ID&json=1) and with the export.
#
#   check-envoy.py ADMIN_PORT CONTROL_PORT NODE_ID EXPORT_DIR sotw|delta   -> MATCH (exit 0) or MISMATCH (exit 1)
#
# Checks: the resource names per type equal the export group's; every resource's content as
# Envoy dumps it equals the peer's decoded message (EDS: the endpoint addresses; SDS: but the
# redacted private key); versions (SotW: the type version Envoy last accepted, per type and per
# EDS cluster, route configuration and secret, is the peer's = meshgate's type version; Delta:
# each resource's version_info is the version the peer sent with it); no listener warming or
# failed; no NACK seen by the peer.
import json, sys, urllib.request
admin, control, node, exp, mode = sys.argv[1:6]
get = lambda u: json.load(urllib.request.urlopen(u))
dump = get(f'http://127.0.0.1:{admin}/config_dump?include_eds')
snap = get(f'http://127.0.0.1:{control}/snapshot?node={node}&json=1')
stats = get(f'http://127.0.0.1:{control}/stats')
vt = {x['name']: x['value'] for x in get(f'http://127.0.0.1:{admin}/stats?format=json&filter=version_text')['stats']}
ex = json.load(open(exp + '/snapshots.json'))
g = [g for g in ex['groups'] if node in g['nodeIds']][0]
T = {'CDS': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', 'EDS': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
     'LDS': 'type.googleapis.com/envoy.config.listener.v3.Listener', 'RDS': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
     'SDS': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret'}
got = {t: {} for t in T.values()}   # name -> (version, json)
problems = []
for c in dump['configs']:
    ty = c['@type'].split('.')[-1]
    if ty == 'ClustersConfigDump':
        for x in c.get('dynamic_active_clusters', []): got[T['CDS']][x['cluster']['name']] = (x['version_info'], x['cluster'])
        if c.get('dynamic_warming_clusters'): problems.append('warming clusters')
    elif ty == 'EndpointsConfigDump':
        for x in c.get('dynamic_endpoint_configs', []): got[T['EDS']][x['endpoint_config']['cluster_name']] = (x.get('version_info'), x['endpoint_config'])
    elif ty == 'ListenersConfigDump':
        for x in c.get('dynamic_listeners', []):
            if 'active_state' not in x or 'warming_state' in x or 'error_state' in x: problems.append(f'listener {x.get("name")} not active: {x.get("error_state")}')
            else: got[T['LDS']][x['name']] = (x['active_state']['version_info'], x['active_state']['listener'])
    elif ty == 'RoutesConfigDump':
        for x in c.get('dynamic_route_configs', []): got[T['RDS']][x['route_config']['name']] = (x['version_info'], x['route_config'])
    elif ty == 'SecretsConfigDump':
        for x in c.get('dynamic_active_secrets', []): got[T['SDS']][x['name']] = (x['version_info'], x['secret'])
        if c.get('dynamic_warming_secrets'): problems.append('warming secrets')

def first_diff(a, b, path=''):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b: return f'{path}.{k}: only in {"envoy" if k in a else "peer"}'
            d = first_diff(a[k], b[k], f'{path}.{k}')
            if d: return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): return f'{path}: list length {len(a)} != {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f'{path}[{i}]')
            if d: return d
        return None
    return None if a == b else f'{path}: {str(a)[:80]} != {str(b)[:80]}'

def endpoints(cla):
    return sorted((e['endpoint']['address']['socket_address']['address'], e['endpoint']['address']['socket_address']['port_value'])
                  for l in cla.get('endpoints', []) for e in l.get('lb_endpoints', []))

want = {t: {} for t in T.values()}
for r in g['resources']: want[r['typeUrl']][r['name']] = r['version']
for short, t in T.items():
    names = set(got[t])
    if short == 'EDS': names &= set(want[t])   # Envoy also dumps the endpoints of static clusters
    if names != set(want[t]): problems.append(f'{short}: names differ: envoy {sorted(names)} export {sorted(want[t])}')
    # The version Envoy last accepted for the type (SotW version_info; Delta system_version_info).
    tv = snap[t]['version']
    keys = {'CDS': ['cluster_manager.cds.version_text'], 'LDS': ['listener_manager.lds.version_text'],
            'EDS': [f'cluster.{n}.version_text' for n in want[t]], 'SDS': [f'sds.{n}.version_text' for n in want[t]],
            'RDS': [k for k in vt if any(k.endswith(f'.rds.{n}.version_text') for n in want[t])]}[short]
    # Delta: a response carries only changed resources, so a per-resource version_text (EDS, RDS,
    # SDS) keeps the system version of the response that last changed that resource. Check those
    # through the per-resource versions below instead.
    if mode == 'delta' and short in ('EDS', 'RDS', 'SDS'): keys = []
    for k in keys:
        if vt.get(k) != tv: problems.append(f'{short}: {k} = {vt.get(k)} != peer type version {tv}')
    if short == 'RDS' and mode == 'sotw' and len(keys) < len(want[t]): problems.append(f'RDS: version_text stats for {len(keys)} of {len(want[t])} route configurations')
    for n, (v, body) in got[t].items():
        if n not in snap[t]['resources']: continue
        # Delta: each resource's version_info is the version the peer sent with it. (SotW: the type
        # version of the response that last changed the resource, checked above via version_text.)
        if short != 'EDS' and mode == 'delta' and v != snap[t]['resources'][n]:
            problems.append(f'{short} {n}: envoy version {v} != peer resource version {snap[t]["resources"][n]}')
        body = {k: x for k, x in body.items() if k != '@type'}
        peer = snap[t]['json'][n]
        if short == 'EDS':   # Envoy dumps the cluster's current hosts (with defaults filled in): compare addresses
            if endpoints(body) != endpoints(peer): problems.append(f'EDS {n}: endpoints {endpoints(body)} != {endpoints(peer)}')
            continue
        if short == 'SDS':   # Envoy redacts the private key
            pk = peer.get('tls_certificate', {}).get('private_key')
            if pk is not None: peer['tls_certificate']['private_key'] = body['tls_certificate']['private_key']
        d = first_diff(body, peer)
        if d: problems.append(f'{short} {n}: content differs at {d}')
    print(f'  {short} {len(names)} resources; type version {tv}; envoy version_text {sorted({vt.get(k) for k in keys}, key=str)}')
print(f'  peer stats: nacks={stats["nacks"]} sotwStreams={stats["sotwStreams"]} deltaStreams={stats["deltaStreams"]} responses={stats["responses"]} deltaResponses={stats["deltaResponses"]}')
if stats['nacks']: problems.append(f'{stats["nacks"]} NACKs')
for p in problems: print('  PROBLEM', p)
print(f'{node} {mode} vs {exp}:', 'MATCH' if not problems else 'MISMATCH')
sys.exit(1 if problems else 0)
