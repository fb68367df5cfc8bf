// A snapshot as readable proto3 JSON (what `render` prints and /debug/config serves).
// Private keys never leave the process in a dump.
import { decodeToJson } from '../xds/json.js';
import { messageType } from '../xds/protos.js';
import type { Snapshot } from '../xds/snapshot.js';
import { ADS_ORDER, SHORT_NAME, TYPE } from '../xds/type-urls.js';

export interface SnapshotDump {
  version: string;
  resources: Record<string, { version: string; resources: Record<string, unknown>[] }>;
}

export function dumpSnapshot(snap: Snapshot, opts: { redact?: boolean } = {}): SnapshotDump {
  const out: SnapshotDump = { version: snap.version, resources: {} };
  for (const t of ADS_ORDER) {
    const type = messageType(t);
    const list: Record<string, unknown>[] = [];
    for (const r of snap.resources(t).values()) {
      const j = decodeToJson(type, r.body);
      list.push(t === TYPE.SECRET && opts.redact !== false ? redactSecret(j) : j);
    }
    out.resources[SHORT_NAME[t]] = { version: snap.typeVersion(t), resources: list };
  }
  return out;
}

function redactSecret(secret: Record<string, unknown>): Record<string, unknown> {
  const tls = secret['tls_certificate'] as Record<string, unknown> | undefined;
  if (!tls || !tls['private_key']) return secret;
  return { ...secret, tls_certificate: { ...tls, private_key: { inline_string: '[redacted]' } } };
}
