import { constants } from 'node:os';

/**
 * After a graceful close on SIGTERM or SIGINT, Nest removes its listeners and re-raises the signal, so that the
 * default action ends the process. The kernel drops that for PID 1 (node in a container without an init), and such a
 * process would live on until a handle nobody closed lets go, or until the orchestrator's SIGKILL. A listener that
 * stays ends the process on the second signal of a kind: Nest's re-raise once everything is closed (status 0), or an
 * operator asking again while the close still runs (128 + the signal's number, as the default action reports: the
 * drain was cut short, and a supervisor must not read it as a clean stop). Call it after Nest's listeners are
 * attached (`enableShutdownHooks`), with `before` taken just before that: Nest's listeners still being attached is
 * what tells the two apart. Returns what removes the listeners.
 */
export function exitOnSecondSignal(
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  /** Listeners attached before Nest's (`listenersOf` then): not the close, whether or not they stay. */
  before: ReadonlyMap<NodeJS.Signals, readonly unknown[]> = new Map(),
): () => void {
  const listeners = signals.map((signal) => {
    const closers = process.listeners(signal).filter((l) => !before.get(signal)?.includes(l));
    let seen = false;
    const listener = () => {
      if (!seen) {
        seen = true; // the first: Nest's own listener closes the application
        return;
      }
      const closing = closers.some((l) => process.listeners(signal).includes(l));
      process.exit(closing ? 128 + constants.signals[signal] : 0);
    };
    process.on(signal, listener);
    return () => process.removeListener(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}

/** The listeners of each signal now: what `exitOnSecondSignal` leaves out of the close. */
export function listenersOf(
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Map<NodeJS.Signals, unknown[]> {
  return new Map(signals.map((signal) => [signal, process.listeners(signal)]));
}
