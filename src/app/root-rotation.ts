// Root CA rotation with zero failed handshakes (RELIABILITY 17):
//   1. trust both: a new root is created (state dir: ca.next.crt, ca.next.key) and every proxy
//      receives the bundle {old, new}; wait until every connected proxy has ACKed it;
//   2. re-issue: every leaf is re-issued from the new root and pushed; wait for the ACKs;
//   3. drop the old root: the bundle becomes {new}; wait for the ACKs; then the new root
//      becomes ca.crt/ca.key and the old certificate is kept as ca.retired-<time>.crt (its
//      key is deleted).
// Until step 3 completes both roots are trusted, so a handshake between a proxy with a new
// leaf and one with an old leaf succeeds either way. If proxies do not ACK in time the
// rotation stops where it is (still trusting both) and can be run again to finish; an
// interrupted rotation found at startup is resumed the same way.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { checkCa, createRoot, type LoadedCa } from '../ca/authority.js';
import type { XdsStatusBoard } from '../xds/status.js';
import type { MeshSecurity } from './security.js';

export type RotationPhase = 'idle' | 'trusting-both' | 'reissuing' | 'dropping-old-root' | 'done' | 'failed';

export interface RotationStatus {
  phase: RotationPhase;
  /** Every phase this run went through, in order, with when it started. */
  history: Array<{ phase: RotationPhase; at: string; message: string }>;
  startedAt: string | null;
  finishedAt: string | null;
  message: string;
  newRoot: string | null;
}

export interface RotationHooks {
  /** Rebuild and publish every group's snapshot (secrets changed). */
  republish(): void;
  board: XdsStatusBoard;
  /** Groups that have an identity (their proxies must ACK the secrets). */
  groupsWithIdentity(): Set<string>;
}

const NEXT = { cert: 'ca.next.crt', key: 'ca.next.key' };

export class RootRotation {
  status: RotationStatus = { phase: 'idle', history: [], startedAt: null, finishedAt: null, message: '', newRoot: null };
  private running = false;
  private readonly log: Logger;

  constructor(
    private readonly security: MeshSecurity,
    private readonly hooks: RotationHooks,
    log: Logger,
    private readonly ackTimeoutMs = 60_000,
  ) {
    this.log = log.child({ component: 'root-rotation' });
  }

  private files(): { cert: string; key: string } {
    const dir = this.security.stateDir!;
    return { cert: path.join(dir, NEXT.cert), key: path.join(dir, NEXT.key) };
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** At startup: a rotation that was interrupted keeps trusting its new root. */
  resumePending(): boolean {
    if (!this.security.stateDir || this.security.userProvidedCa) return false;
    const f = this.files();
    if (!fs.existsSync(f.cert) || !fs.existsSync(f.key)) return false;
    const next = checkCa(fs.readFileSync(f.cert, 'utf8'), fs.readFileSync(f.key, 'utf8'), f);
    this.security.extraRoots = [next.root];
    this.status = { phase: 'trusting-both', history: [], startedAt: null, finishedAt: null, message: 'an interrupted root rotation was found: both roots are trusted; run "meshgate ca rotate" to finish it', newRoot: next.root.fingerprint256 };
    this.log.warn(this.status.message);
    return true;
  }

  /** Start (or finish) a rotation. Resolves when it is done or has stopped. */
  async run(): Promise<RotationStatus> {
    if (this.running) throw new Error('a root rotation is already running');
    if (!this.security.stateDir) throw new Error('root rotation needs a state directory');
    if (this.security.userProvidedCa) throw new Error('the CA was provided with --ca-cert/--ca-key: rotate it yourself, then restart meshgate with the new files');
    this.running = true;
    const startedAt = new Date().toISOString();
    const history: RotationStatus['history'] = [];
    const set = (phase: RotationPhase, message: string, newRoot: string | null): void => {
      const at = new Date().toISOString();
      history.push({ phase, at, message });
      this.status = { phase, history: [...history], startedAt, finishedAt: phase === 'done' || phase === 'failed' ? at : null, message, newRoot };
      this.log.info({ phase }, message);
    };
    try {
      const f = this.files();
      let next: LoadedCa;
      if (fs.existsSync(f.cert) && fs.existsSync(f.key)) {
        next = { ...checkCa(fs.readFileSync(f.cert, 'utf8'), fs.readFileSync(f.key, 'utf8'), f), created: false };
      } else {
        const { certPem, keyPem } = createRoot();
        fs.writeFileSync(f.key, keyPem, { mode: 0o600 });
        fs.writeFileSync(f.cert, certPem, { mode: 0o644 });
        next = { ...checkCa(certPem, keyPem, f), created: true };
      }
      const old = this.security.ca;
      const fp = next.root.fingerprint256;
      if (old.root.fingerprint256 !== fp) {
        // 1. Trust both roots everywhere.
        this.security.extraRoots = [next.root];
        set('trusting-both', 'publishing the trust bundle {old root, new root}', fp);
        await this.publishAndWait();
        // 2. Re-issue every leaf from the new root.
        this.security.setAuthority(next);
        this.security.extraRoots = [old.root];
        set('reissuing', 're-issuing every workload certificate from the new root', fp);
        this.security.reissueAll();
        await this.publishAndWait();
      }
      // 3. Drop the old root.
      this.security.extraRoots = [];
      set('dropping-old-root', 'publishing the trust bundle {new root}', fp);
      await this.publishAndWait();
      this.persist(next);
      set('done', 'root rotation complete', fp);
    } catch (err) {
      const trusted = this.security.extraRoots.length > 0 ? 'both roots stay trusted' : 'every certificate is already from the new root';
      set('failed', `root rotation stopped: ${(err as Error).message}; ${trusted}; run it again to finish`, this.status.newRoot);
    } finally {
      this.running = false;
    }
    return this.status;
  }

  private persist(next: LoadedCa): void {
    const dir = this.security.stateDir!;
    const cur = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    // Retire the root on disk, compared by content: when a run that stopped after re-issuing is
    // run again, the CA in memory is already the new one, but ca.crt still holds the old root.
    if (fs.existsSync(cur.cert) && new X509Certificate(fs.readFileSync(cur.cert)).fingerprint256 !== next.root.fingerprint256) {
      fs.renameSync(cur.cert, path.join(dir, `ca.retired-${stamp}.crt`));
    }
    const f = this.files();
    fs.renameSync(f.key, cur.key);
    fs.renameSync(f.cert, cur.cert);
    this.security.ca = { ...next, files: cur };
  }

  /** Publish new snapshots and wait until every connected proxy with an identity ACKed SDS. */
  private async publishAndWait(): Promise<void> {
    this.hooks.republish();
    const groups = this.hooks.groupsWithIdentity();
    const deadline = Date.now() + this.ackTimeoutMs;
    for (;;) {
      const lagging = this.hooks.board
        .view()
        .filter((p) => p.group !== null && groups.has(p.group))
        .filter((p) => {
          const sds = p.types['SDS'];
          return !sds || sds.pending || sds.versionAcked !== sds.versionSent;
        });
      if (lagging.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`proxies did not acknowledge the new secrets within ${this.ackTimeoutMs / 1000}s: ${lagging.map((p) => p.nodeId).slice(0, 10).join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
