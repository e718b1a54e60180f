import { createAgent } from '../../src/agent/agent.js';
import type { AgentOptions } from '../../src/agent/agent.js';
import type { AgentEvent } from '../../src/agent/events.js';
import type { Journal } from '../../src/agent/journal.js';
import type { Clock } from '../../src/util/clock.js';
import type { ApiResponse } from '../../src/api/http-port.js';
import { rawImage } from '../../src/agent/sinks/raw-image.js';
import { FakeApi, FakeCdn, FakeTarget, InstantClock, makeJournal, text } from './fakes.js';

/** A raw-image agent over fakes (one target 'main' at 0.0.1, a CDN with `payload`), for the driver's own behaviour. */
export interface AgentRig {
  target: FakeTarget;
  cdn: FakeCdn;
  api: FakeApi;
  journal: Journal;
  clock: Clock;
  events: AgentEvent[];
  agent: ReturnType<typeof createAgent>;
  /** Reboots the agent asked for, and the application's self-test verdict (passes by default). */
  reboots: number;
  selfTest: () => Promise<boolean>;
  /** createAgent's options; `remake(extra)` builds a fresh agent (a reboot) from them. */
  options(extra?: Partial<AgentOptions>): AgentOptions;
  remake(extra?: Partial<AgentOptions>): void;
}

export const URL_OK = 'https://cdn.example/a/b/fw-1?token=t&expires=1900000000';

/**
 * The rig; `clock` defaults to an InstantClock (sleeps return at once, moving time). The device API offers URL_OK to
 * 0.0.1 and answers 204 latest otherwise, unless `setup.answer` says else; the target's sectors are 64 bytes by default.
 */
export function agentRig<C extends Clock = InstantClock>(payload: Uint8Array, clock?: C,
  setup: { answer?: (url: string) => ApiResponse; sector?: number } = {}): AgentRig & { clock: C } {
  const r = {} as AgentRig & { clock: C };
  r.target = new FakeTarget('main', '0.0.1', setup.sector ?? 64);
  r.target.expected = payload;
  r.cdn = new FakeCdn(payload);
  r.api = new FakeApi(setup.answer ?? ((url) => url.includes('current_version=0.0.1') ? text(200, URL_OK + '\n') : text(204, '', { 'memfault-reason': 'latest' })));
  r.journal = makeJournal(2048).journal;
  r.clock = clock ?? (new InstantClock() as Clock as C);
  r.events = [];
  r.reboots = 0;
  r.selfTest = () => Promise.resolve(true);
  r.options = (extra = {}) => ({
    api: { baseUrl: 'https://api.example', projectKey: 'secret-key' },
    device: { serial: 'SN1', hardwareVersion: 'evt' },
    softwareType: 'main',
    transport: { http: r.api, fetcher: r.cdn },
    targets: [r.target],
    journal: r.journal,
    clock: r.clock,
    random: () => 0.5,
    policy: { snapshotBytes: 64, checkpointBytes: 0, progressIntervalMs: 0 },
    onEvent: (e) => r.events.push(e),
    selfTest: () => r.selfTest(),
    reboot: () => { r.reboots++; r.target.reboot(); r.remake(extra); return Promise.resolve(); },
    allowUnsigned: true,
    // /latest/url gives no version: the raw image's comes from its "header" (a raw image of no known version is refused).
    rawFormat: rawImage(() => '1.0.0', 4),
    ...extra,
  });
  r.remake = (extra = {}) => { r.agent = createAgent(r.options(extra)); };
  r.remake();
  return r;
}

/** Event types without state and progress noise. */
export function eventTypes(events: AgentEvent[]): string[] {
  return events.filter((e) => e.type !== 'state' && e.type !== 'download-progress').map((e) => e.type);
}
