// Requests to stop a long-running command: Ctrl-C (SIGINT), SIGTERM, and stdout's reader going away (`… | head`).
// One place, so a command installs one listener per run (not one per wait) and every reason ends it the same way.

/** Why a command is asked to stop. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'output-closed';

/** The conventional exit status of a process ended by each reason (128 + signal number; SIGPIPE for a closed output). */
export const STOP_EXIT_CODES: { [reason in StopReason]: number } = { SIGINT: 130, SIGTERM: 143, 'output-closed': 141 };

type Listener = (reason: StopReason) => void;

const listeners: Listener[] = [];

function onSigint(): void { dispatch('SIGINT'); }
function onSigterm(): void { dispatch('SIGTERM'); }

function dispatch(reason: StopReason): void {
  for (const listener of listeners.slice()) listener(reason);
}

/**
 * Calls `listener` on every stop request until the returned function is called. While any listener is registered,
 * SIGINT and SIGTERM no longer end the process: the listener decides how to stop.
 */
export function onStopRequest(listener: Listener): () => void {
  listeners.push(listener);
  if (listeners.length === 1) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    listeners.splice(listeners.indexOf(listener), 1);
    if (listeners.length === 0) {
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigterm);
    }
  };
}

/** Reports that stdout's reader went away; returns true when a running command took it as a stop request. */
export function requestStopForClosedOutput(): boolean {
  if (listeners.length === 0) return false;
  dispatch('output-closed');
  return true;
}
