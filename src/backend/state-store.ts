import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { otaError } from '../util/errors.js';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic-file.js';
import { withSafeMaps, type BackendState } from './model.js';
import { checkState } from './state-check.js';

/** What a fresh state needs; values already stored win unless given explicitly. */
export interface StateDefaults {
  org?: string;
  project?: string;
  projectKey?: string;
  orgToken?: string;
}

function secret(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * The backend state in `<dataDir>/state.json`. Admin changes are saved before they are acknowledged (`save`);
 * device bookkeeping (first sight, last seen) is saved lazily (`touch`), at most every `flushMs`, and on close.
 */
export class StateStore {
  readonly state: BackendState;
  private readonly path: string;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bumped by every synchronous save: a background flush started before it must not land after it. */
  private generation = 0;
  private flushing: Promise<unknown> | null = null;

  /**
   * Loads the state from `dataDir` (refused with `backend-state-corrupt` naming the bad field when its shape is
   * wrong), or creates it. `verify` sees the loaded state before anything is written (throw to refuse it). Explicit
   * defaults override stored credentials.
   */
  constructor(readonly dataDir: string, defaults: StateDefaults, private readonly flushMs = 500, verify?: (state: BackendState) => void) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'state.json');
    let loaded: BackendState | null = null;
    if (existsSync(this.path)) {
      try {
        loaded = JSON.parse(readFileSync(this.path, 'utf8')) as BackendState;
      } catch (cause) {
        throw otaError('backend-state-corrupt', `${this.path} is not valid JSON; move it away to start with an empty backend`, false, { path: this.path }, cause);
      }
      loaded = checkState(loaded, this.path);
      if (verify) verify(loaded);
    }
    const now = new Date().toISOString();
    this.state = withSafeMaps(loaded ?? {
      schema: 1, org: 'acme', project: 'smart-sensor', projectKey: secret(16), orgToken: 'oat_' + secret(20),
      urlSecret: secret(32), nextId: 1, cohorts: { default: { name: 'default', slug: 'default', createdDate: now } },
      devices: {}, releases: {}, deployments: [],
    });
    if (defaults.org) this.state.org = defaults.org;
    if (defaults.project) this.state.project = defaults.project;
    if (defaults.projectKey) this.state.projectKey = defaults.projectKey;
    if (defaults.orgToken) this.state.orgToken = defaults.orgToken;
    this.save();
  }

  /** A new unique id for releases, artifacts and deployments. */
  nextId(): number {
    return this.state.nextId++;
  }

  /** Throws `backend-closed` once close() ran: a closed backend's directory may already belong to another one. */
  assertOpen(): void {
    if (this.closed) {
      throw otaError('backend-closed', `The backend on ${this.dataDir} was closed; its state can no longer change. Start it again to make changes.`, false);
    }
  }

  /** Persists now (atomic replace). */
  save(): void {
    this.assertOpen();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.generation++;
    writeFileAtomic(this.path, JSON.stringify(this.state, null, 1));
  }

  /** Schedules a save soon: for bookkeeping that must not cost a disk write per device request. */
  touch(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.flushing) { this.touch(); return; }
      const generation = ++this.generation;
      this.flushing = writeFileAtomicAsync(this.path, JSON.stringify(this.state), () => this.generation === generation)
        .catch(() => { this.touch(); })
        .then(() => { this.flushing = null; });
    }, this.flushMs);
    this.timer.unref();
  }

  /** Runs `change` on a deep copy and commits it only when it returns without throwing: a failed change alters nothing. */
  transact<T>(change: (draft: BackendState) => T): T {
    this.assertOpen();
    const draft = withSafeMaps(structuredClone(this.state));
    const result = change(draft);
    Object.assign(this.state, draft);
    this.save();
    return result;
  }

  /** Flushes pending bookkeeping (a synchronous save supersedes any background flush still running). */
  async close(): Promise<void> {
    const pending = this.timer !== null || this.flushing !== null;
    if (this.flushing) await this.flushing;
    if (pending) this.save();
    this.closed = true;
  }
}
