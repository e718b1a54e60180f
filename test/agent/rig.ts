import { createAgent } from '../../src/agent/agent.js';
import type { AgentEvent } from '../../src/agent/events.js';
import type { FetchRequest, PayloadFetcher } from '../../src/agent/fetch-port.js';
import type { Journal } from '../../src/agent/journal.js';
import type { Policy } from '../../src/agent/policy.js';
import { rawImage } from '../../src/agent/sinks/raw-image.js';
import type { SinkFormat } from '../../src/agent/sinks/sink.js';
import type { ApiResponse } from '../../src/api/http-port.js';
import { FakeApi, FakeCdn, FakeTarget, InstantClock, makeJournal, text } from './fakes.js';

// A device over fakes for the agent's tests: one raw-image target, a CDN per artifact URL path, a scripted device API.
// Each remake() is a new agent over the same flash and journal (a restart after a power cut or Ctrl-C).

/** The CDN link of artifact `name`, with a token as a signed link has. */
export function linkOf(name: string, token = 'SECRET-TOKEN-1'): string {
  return 'https://cdn.example/a/b/' + name + '?token=' + token + '&expires=1900000000';
}

/** CDN fakes chosen by the artifact's URL path; records every URL requested. */
export class CdnByPath implements PayloadFetcher {
  urls: string[] = [];
  constructor(public readonly cdns: { [name: string]: FakeCdn }) {}
  fetch(request: FetchRequest): Promise<void> {
    this.urls.push(request.url);
    const name = request.url.split('?')[0].split('/').pop() as string;
    return this.cdns[name].fetch(request);
  }
  /** Body bytes sent by every artifact. */
  bytesSent(): number {
    let n = 0;
    for (const name of Object.keys(this.cdns)) n += this.cdns[name].bytesSent;
    return n;
  }
}

export interface RigOptions {
  sector?: number;
  policy?: Partial<Policy>;
  /** Default: a raw format whose header reader says 1.0.0 (/latest/url gives no version); null: createAgent's default. */
  rawFormat?: SinkFormat | null;
  /** Another payload fetcher (a real HTTP client) instead of the CDN fakes. */
  fetcher?: PayloadFetcher;
}

/** The rig. */
export class Rig {
  target: FakeTarget;
  cdn: CdnByPath;
  api: FakeApi;
  journal: Journal;
  clock = new InstantClock();
  events: AgentEvent[] = [];
  reboots = 0;
  agent!: ReturnType<typeof createAgent>;

  constructor(artifacts: { [name: string]: Uint8Array }, answer: (url: string) => ApiResponse, readonly options: RigOptions = {}) {
    this.target = new FakeTarget('main', '0.0.1', options.sector ?? 64);
    const cdns: { [name: string]: FakeCdn } = {};
    for (const name of Object.keys(artifacts)) cdns[name] = new FakeCdn(artifacts[name]);
    this.cdn = new CdnByPath(cdns);
    this.api = new FakeApi(answer);
    this.journal = makeJournal(2048).journal;
    this.remake();
  }

  /** A new agent on the same device (a restart). */
  remake(): void {
    this.agent = createAgent({
      api: { baseUrl: 'https://api.example', projectKey: 'secret-key' },
      device: { serial: 'SN1', hardwareVersion: 'evt' },
      softwareType: 'main',
      transport: { http: this.api, fetcher: this.options.fetcher ?? this.cdn },
      targets: [this.target],
      journal: this.journal,
      clock: this.clock,
      random: () => 0.5,
      policy: { snapshotBytes: 64, checkpointBytes: 0, progressIntervalMs: 0, ...this.options.policy },
      onEvent: (e) => this.events.push(e),
      reboot: () => { this.reboots++; this.target.reboot(); this.remake(); return Promise.resolve(); },
      allowUnsigned: true,
      rawFormat: this.options.rawFormat === null ? undefined : this.options.rawFormat ?? rawImage(() => '1.0.0', 4),
    });
  }

  /** Runs one cycle, stopping it (as Ctrl-C does) once `bytes` more body bytes went through; then restarts the agent. */
  async interrupted(bytes: number): Promise<string> {
    const fetchers = Object.values(this.cdn.cdns);
    const originals = fetchers.map((cdn) => cdn.fetch.bind(cdn));
    let seen = 0;
    fetchers.forEach((cdn, i) => {
      cdn.fetch = (req) => originals[i]({ ...req, data: (c) => { seen += c.length; if (seen >= bytes) void this.agent.stop(); return req.data(c); } });
    });
    try {
      return (await this.agent.runOnce()).outcome;
    } finally {
      fetchers.forEach((cdn, i) => { cdn.fetch = originals[i]; });
      this.remake();
    }
  }

  /** The events of `type`. */
  of<T extends AgentEvent['type']>(type: T): Extract<AgentEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<AgentEvent, { type: T }> => e.type === type);
  }
}

/** An API that offers `link` (as /latest/url) while the device runs `from`, else 204 latest. */
export function offering(link: () => string | null, from = '0.0.1'): (url: string) => ApiResponse {
  return (url) => {
    const now = link();
    return now !== null && url.includes('current_version=' + from) ? text(200, now + '\n') : text(204, '', { 'memfault-reason': 'latest' });
  };
}
