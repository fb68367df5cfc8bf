// What the admin API reports about xDS: every live stream's view, and the recent NACKs.

export interface TypeStatus {
  subscribed: string[] | '*';
  versionSent: string | null;
  versionAcked: string | null;
  pending: boolean;
  lastNack: NackRecord | null;
}

export interface StreamStatus {
  streamId: number;
  nodeId: string;
  cluster: string;
  userAgent: string;
  group: string | null;
  variant: 'sotw' | 'delta';
  service: string;
  peer: string;
  connectedAt: string;
  types: Record<string, TypeStatus>;
}

export interface NackRecord {
  nodeId: string;
  cluster: string;
  type: string;
  version: string;
  resources: string[];
  message: string;
  at: string;
}

export interface StatusSource {
  status(): StreamStatus;
}

const MAX_RECENT_NACKS = 200;

export class XdsStatusBoard {
  private readonly streams = new Set<StatusSource>();
  private readonly nacks: NackRecord[] = [];

  add(s: StatusSource): void {
    this.streams.add(s);
  }

  remove(s: StatusSource): void {
    this.streams.delete(s);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  recordNack(n: NackRecord): void {
    this.nacks.push(n);
    if (this.nacks.length > MAX_RECENT_NACKS) this.nacks.splice(0, this.nacks.length - MAX_RECENT_NACKS);
  }

  recentNacks(): NackRecord[] {
    return [...this.nacks];
  }

  view(): StreamStatus[] {
    return [...this.streams].map((s) => s.status()).sort((a, b) => a.nodeId.localeCompare(b.nodeId) || a.streamId - b.streamId);
  }
}
