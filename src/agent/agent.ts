import type { ImageTarget } from '../../hal/image-target.js';
import type { ApiConfig } from '../api/device-api.js';
import type { ApiHttp } from '../api/http-port.js';
import type { Clock, Random } from '../util/clock.js';
import { bytesEqual } from '../util/bytes.js';
import { otaError, toOtaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import type { AgentContext, DeviceIdentity, SelfTest, Step } from './context.js';
import type { AgentEvent, EventListener } from './events.js';
import type { PayloadFetcher } from './fetch-port.js';
import type { Journal } from './journal.js';
import { backoffDelay, firstCheckDelay, makePolicy } from './policy.js';
import type { Policy } from './policy.js';
import { rawImageFormat } from './sinks/raw-image.js';
import { refuseRawFormat } from './sinks/refuse-raw.js';
import type { PayloadSink, SinkFormat, SinkOpen } from './sinks/sink.js';
import { cloneState, decodeState, encodeState, initialState } from './state.js';
import type { AgentState, Phase } from './state.js';
import { checking } from './steps/check.js';
import { downloading } from './steps/download.js';
import { fail, pause, reportError } from './steps/common.js';
import { targetFor } from '../bundle/device-check.js';
import { rebooting, staged } from './steps/install.js';
import { confirmed, rolledBack, trial } from './steps/trial.js';
import { verifying } from './steps/verify.js';

// The driver of the update state machine. Each state is a function (ctx, state) -> Promise<next>; the driver
// persists every new state to the journal before running it (write-ahead), so a power cut resumes from the
// last durable state. One cycle = from a resting state (idle, backoff) to the next resting state, or to a reboot.

/** How the agent reaches the network: the device API and the payload CDN. */
export interface AgentNetwork {
  http: ApiHttp;
  fetcher: PayloadFetcher;
}

/** Everything createAgent needs. */
export interface AgentOptions {
  api: ApiConfig;
  device: DeviceIdentity;
  /** The software type the device queries; its target's running version is current_version. */
  softwareType: string;
  /** The network ports (see src/agent/http-adapter.ts for the ones over src/http and a Transport). */
  transport: AgentNetwork;
  targets: ImageTarget[];
  journal: Journal;
  clock: Clock;
  random: Random;
  policy?: { [K in keyof Policy]?: Policy[K] };
  onEvent?: EventListener;
  /** The application's verdict after a trial boot; without one a trial that boots is confirmed. */
  selfTest?: SelfTest;
  /** Reboots the device after activation (or to revert a failed trial). Without one, `runOnce` ends in 'rebooting'. */
  reboot?: () => Promise<void>;
  /** Payload formats besides the raw image (e.g. bundles), tried in order; the raw image is the fallback. */
  formats?: SinkFormat[];
  /** The raw-image format to fall back to when allowUnsigned is true (default: rawImageFormat, which reads no version). */
  rawFormat?: SinkFormat;
  /**
   * Accept payloads that carry no signature: raw images (and, through the bundle trust policy, unsigned bundles).
   * Default false: a raw image is refused with `unsigned-payload-refused` before anything is written to flash.
   */
  allowUnsigned?: boolean;
}

/** What one cycle ended with. */
/** How a cycle ended. */
export type CycleOutcome = 'up-to-date' | 'rebooting' | 'confirmed' | 'rolled-back' | 'failed' | 'stopped' | 'halted';

export interface CycleResult {
  phase: Phase;
  outcome: CycleOutcome;
  error: OtaError | null;
}

/** The agent's public face. */
export interface Agent {
  /** Runs one check-and-update cycle (or continues the one a reboot interrupted). */
  runOnce(): Promise<CycleResult>;
  /** Polls: first check after the policy's boot delay (or at once to resume), then at the policy's cadence. */
  start(): void;
  /** Stops polling and any transfer at its next chunk, leaving a resumable state; resolves when idle. */
  stop(): Promise<void>;
  /** The persisted state (a copy). */
  state(): Promise<AgentState>;
  /** The policy in force. */
  policy(): Policy;
}

const STEPS: { [phase: string]: Step } = {
  checking: checking,
  downloading: downloading,
  verifying: verifying,
  staged: staged,
  rebooting: rebooting,
  trial: trial,
  confirmed: confirmed,
  'rolled-back': rolledBack,
};

/** `format` opening its sinks with the anti-rollback floor journaled at the last confirmed bundle. */
function withSequence(format: SinkFormat, state: () => AgentState | null): SinkFormat {
  return {
    name: format.name,
    headBytes: format.headBytes,
    // A format's functions use no `this` (they close over their configuration).
    recognizes: format.recognizes,
    open: function (options: SinkOpen): Promise<PayloadSink> {
      const known = state();
      // The steps build `options` for this one call: setting the floor on it changes nothing they keep.
      options.installedSequence = known !== null && typeof known.installedSequence === 'number' ? known.installedSequence : 0;
      return format.open(options);
    },
  };
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value !== '';
}

// What createAgent cannot run without, beyond the identity and targets checked one by one.
const REQUIRED = ['transport', 'journal', 'clock', 'random'];

/** Throws `agent-config-invalid` for `field` (a project key is never printed: its `found` is only ever '' or undefined). */
function bad(field: string, found: unknown): void {
  throw otaError('agent-config-invalid', 'createAgent: ' + field + ' is ' + (found === undefined ? 'missing' : JSON.stringify(found)) + '; expected ' +
    (field === 'api.baseUrl' ? 'an http:// or https:// URL with a host' : field === 'softwareType' ? 'the software type of one of the targets'
      : field.indexOf('targets') === 0 ? 'at least one ImageTarget, each with its own non-empty software type'
        : field === 'options' || REQUIRED.indexOf(field) >= 0 ? 'the ' + field + ' the agent runs on (see createAgent in docs/agent.md)' : 'a non-empty string') +
    '. Fix the agent configuration; nothing was sent.', false, { field: field });
}

/**
 * Refuses a configuration that cannot work before anything is sent or journaled: a request with an empty serial or
 * a bad URL would only fail later, and a missing target would make the first release look refused (given up for
 * good). Throws `agent-config-invalid` naming the field (`details.field`).
 */
function checkOptions(options: AgentOptions): void {
  if (!options) bad('options', undefined);
  for (let i = 0; i < REQUIRED.length; i++) if (!(options as unknown as { [key: string]: unknown })[REQUIRED[i]]) bad(REQUIRED[i], undefined);
  const api = options.api || ({} as ApiConfig);
  const device = options.device || ({} as DeviceIdentity);
  const targets = options.targets;
  if (!/^(http|https):\/\/[^\x2f?# ]/i.test(api.baseUrl)) bad('api.baseUrl', api.baseUrl);
  if (!nonEmpty(api.projectKey)) bad('api.projectKey', api.projectKey === '' ? '' : undefined);
  if (!nonEmpty(device.serial)) bad('device.serial', device.serial);
  if (!nonEmpty(device.hardwareVersion)) bad('device.hardwareVersion', device.hardwareVersion);
  if (!targets || !(targets.length > 0)) bad('targets', targets);
  for (let i = 0; i < targets.length; i++) {
    const type = targets[i] ? targets[i].softwareType : undefined;
    // targetFor finds the first target of a type: one before this one means two claim it (or it is listed twice).
    if (!nonEmpty(type) || targets.indexOf(targetFor(targets, type as string) as ImageTarget) !== i) bad('targets', type);
  }
  if (targetFor(targets, options.softwareType) === null) bad('softwareType', options.softwareType);
}

/** Creates an agent. Nothing happens until `runOnce()` or `start()`; throws `agent-config-invalid` on a bad configuration. */
export function createAgent(options: AgentOptions): Agent {
  checkOptions(options);
  const policy = makePolicy(options.policy);
  // Set by stop() for the cycle in flight; the next runOnce() starts afresh.
  let stopped = false;
  let lastSaved: Uint8Array | null = null;
  let current: AgentState | null = null;
  let running: Promise<CycleResult> | null = null;
  let polling = false;
  // start() and stop() each begin a generation; a poll loop of an older one ends at its next step.
  let generation = 0;
  // Ends the poll wait at once (stop()); calling it after it ended does nothing.
  let wake: (() => void) | null = null;
  // Failed cycles in a row (see loop).
  let unjournaled = 0;
  let lastError: OtaError | null = null;
  let lastStep: Phase = 'idle';

  const raw = options.allowUnsigned !== true ? refuseRawFormat : options.rawFormat !== undefined ? options.rawFormat : rawImageFormat;
  const given = (options.formats !== undefined ? options.formats : []).concat([raw]);
  const formats: SinkFormat[] = [];
  for (let i = 0; i < given.length; i++) formats.push(withSequence(given[i], function () { return current; }));

  function emit(event: AgentEvent): void {
    if (event.type === 'error') lastError = otaError(event.code as string, event.message as string, event.retryable === true, event.details);
    if (options.onEvent === undefined) return;
    try {
      options.onEvent(event);
    } catch {
      // A listener's bug must never break an update.
    }
  }

  function save(state: AgentState): Promise<void> {
    const bytes = encodeState(state);
    if (lastSaved !== null && bytesEqual(bytes, lastSaved)) return Promise.resolve();
    return options.journal.append(bytes).then(function () {
      lastSaved = bytes;
      current = state;
    });
  }

  const ctx: AgentContext = {
    api: options.api,
    device: options.device,
    softwareType: options.softwareType,
    http: options.transport.http,
    fetcher: options.transport.fetcher,
    targets: options.targets,
    journal: options.journal,
    clock: options.clock,
    random: options.random,
    policy: policy,
    formats: formats,
    selfTest: options.selfTest !== undefined ? options.selfTest : null,
    reboot: options.reboot !== undefined ? options.reboot : null,
    emit: emit,
    save: save,
    cancelled: function () { return stopped; },
    live: null,
    interrupt: null,
    rebootRequested: false,
    lastProgressAt: 0,
  };

  function load(): Promise<AgentState> {
    if (current !== null) return Promise.resolve(current);
    return options.journal.load().then(function (bytes) {
      const decoded = bytes !== null ? decodeState(bytes) : null;
      if (bytes !== null) lastSaved = bytes;
      current = decoded !== null ? decoded : initialState();
      return current;
    });
  }

  function drive(state: AgentState, steps: number): Promise<CycleResult> {
    const phase = state.phase;
    const resting = phase === 'idle' || phase === 'backoff';
    if (ctx.rebootRequested) {
      // Without a reboot callback the request stands until the application reboots (and makes a new agent): a cycle
      // before that must not take the image still waiting to boot for one the bootloader reverted.
      if (ctx.reboot !== null) ctx.rebootRequested = false;
      emit({ type: 'rebooting', at: options.clock.now(), version: state.trial !== null ? state.trial.version : null });
      if (ctx.reboot === null) return Promise.resolve({ phase: phase, outcome: 'rebooting', error: null });
      return ctx.reboot().then(function () { return { phase: phase, outcome: 'rebooting', error: null }; });
    }
    if (resting && steps > 0) {
      let outcome: CycleOutcome = 'up-to-date';
      if (phase === 'backoff') outcome = 'failed';
      else if (state.notBefore < 0) outcome = 'halted';
      else if (lastStep === 'confirmed' || lastStep === 'rolled-back') outcome = lastStep;
      else if (lastError !== null) outcome = 'failed';
      return Promise.resolve({ phase: phase, outcome: outcome, error: outcome === 'failed' || outcome === 'halted' ? lastError : null });
    }
    if (stopped && steps > 0) {
      // Closes what the cycle started (a download-started above all): the journal holds where it resumes.
      emit({ type: 'stopped', at: options.clock.now(), phase: phase, offset: phase === 'downloading' && state.download !== null ? state.download.offset : undefined });
      return Promise.resolve({ phase: phase, outcome: 'stopped', error: null });
    }
    const nextPhase = resting ? 'checking' : phase;
    lastStep = nextPhase;
    const working = cloneState(state);
    working.phase = nextPhase;
    emit({ type: 'state', at: options.clock.now(), phase: nextPhase });
    return save(working).then(function () {
      // Every path reaches a resting state in a handful of steps; steps that keep returning working states instead
      // must not spin (in polling, at once again): past 64 the cycle ends in backoff like any failure.
      return steps > 64 ? fail(ctx, working, otaError('agent-loop', 'The update did not reach a resting state within 64 steps (it ' +
        'stayed in "' + phase + '"); backing off before trying again.', true, { phase: phase })) : STEPS[nextPhase](ctx, working);
    }).then(function (next) {
      return save(next).then(function () { return drive(next, steps + 1); });
    });
  }

  function runOnce(): Promise<CycleResult> {
    if (running !== null) return running;
    stopped = false;
    lastStep = 'idle';
    lastError = null;
    const cycle = load().then(function (state) {
      return drive(state, 0);
    }).then(function (result) {
      running = null;
      return result;
    }, function (error: unknown) {
      running = null;
      const failure = toOtaError(error, 'agent-failed', true);
      // A step that already reported this failure (and then could not journal its backoff) is not reported twice.
      if (lastError === null || lastError.code !== failure.code) reportError(ctx, failure);
      // A storage failure leaves the journal as it was (the last durable state); the next cycle starts from there.
      const phase = current !== null ? current.phase : 'idle';
      current = null;
      const result: CycleResult = { phase: phase, outcome: 'failed', error: failure };
      return result;
    });
    running = cycle;
    return cycle;
  }

  // One poll step: wait, run a cycle, then start the next step. It never returns the next step's promise: a chain of
  // every cycle's promise, each resolved with the next, would keep one link per cycle alive for as long as polling
  // runs (about 300 bytes per check, months of polling in a fleet simulation). `end` is called once polling ends.
  function loop(gen: number, first: boolean, end: () => void): void {
    load().then(function (state) {
      if (gen !== generation) return end();
      const now = options.clock.now();
      let delay = 0;
      if (state.phase === 'idle' || state.phase === 'backoff') {
        // Halted by a configuration error: a later start() (a restart, maybe with the configuration fixed) checks again.
        if (state.notBefore < 0 && !first) return undefined;
        delay = first && state.phase === 'idle' ? firstCheckDelay(policy, options.random) : state.notBefore - now;
      }
      // After a failed cycle the journal holds its backoff. When it holds nothing later than now, the failure could not
      // be journaled (the journal or a target refusing), and the next cycle would start at once, again and again: back
      // off in RAM instead.
      if (unjournaled > 0 && delay <= 0) delay = backoffDelay(policy, unjournaled, 0, options.random);
      return (delay > 0 ? pause(options.clock, delay, function (stop) { wake = stop; }) : Promise.resolve(true)).then(function () {
        if (gen !== generation) return end();
        return runOnce().then(function (result) {
          if (result.outcome === 'rebooting' || result.outcome === 'halted') return end();
          unjournaled = result.outcome === 'failed' ? unjournaled + 1 : 0;
          loop(gen, false, end);
          return undefined;
        });
      });
    }).then(undefined, end);
  }

  return {
    runOnce: runOnce,
    start: function (): void {
      if (polling) return;
      polling = true;
      const gen = ++generation;
      const end = function (): void { if (gen === generation) polling = false; };
      loop(gen, true, end);
    },
    stop: function (): Promise<void> {
      stopped = true;
      polling = false;
      generation++;
      if (wake !== null) wake();
      if (ctx.interrupt !== null) ctx.interrupt();
      return running !== null ? running.then(function () { return undefined; }) : Promise.resolve();
    },
    state: function (): Promise<AgentState> {
      return load().then(cloneState);
    },
    policy: function (): Policy { return policy; },
  };
}
