// Run by keep-alive.test.ts in a child process (tsx): an agent on the real Node clock with nothing else pending, to see
// which of its timers keep the process alive. Prints one JSON line per event and one for the result.
import { createAgent } from '../../src/agent/agent.js';
import { systemClock } from '../../src/node/clock.js';
import { FakeApi, FakeCdn, FakeTarget, makeJournal, payloadOf, text } from './fakes.js';

const mode = process.argv[2];
const target = new FakeTarget('main', '0.0.1');
const print = (line: unknown): void => { process.stdout.write(JSON.stringify(line) + '\n'); };
const agent = createAgent({
  api: { baseUrl: 'https://api.example', projectKey: 'k' },
  device: { serial: 'SN1', hardwareVersion: 'evt' },
  softwareType: 'main',
  transport: { http: new FakeApi(() => text(204, '', { 'memfault-reason': 'latest' })), fetcher: new FakeCdn(payloadOf(10)) },
  targets: [target],
  journal: makeJournal(2048).journal,
  clock: systemClock,
  random: () => 0,
  policy: { healthDeadlineMs: 300, firstCheckMs: 200, firstCheckJitterMs: 0 },
  // The application never answers: only the health deadline can end the trial.
  selfTest: () => new Promise<boolean>(() => undefined),
  onEvent: (event) => {
    if (event.type === 'state') return;
    print({ event: event.type, code: 'code' in event ? event.code : undefined });
    // Polling: stop after the first check; nothing may then keep the process alive (the next check is an hour away).
    // (A moment later, so that the poll loop is already waiting for the next check.)
    if (mode === 'poll' && event.type === 'up-to-date') setTimeout(() => { void agent.stop().then(() => print({ stopped: true })); }, 50);
  },
});
if (mode === 'deadline') {
  // A trial runs (the journal does not know it): the agent waits for the self-test or the deadline.
  target.trialRunning = true;
  void agent.runOnce().then((result) => print({ outcome: result.outcome, phase: result.phase }));
} else {
  agent.start();
}
