/**
 * After a graceful close on SIGTERM or SIGINT, Nest removes its listeners and re-raises the signal, so that the
 * default action ends the process. The kernel drops that for PID 1 (node in a container without an init), and such a
 * process would live on until a handle nobody closed lets go, or until the orchestrator's SIGKILL. A listener that
 * stays ends the process on the second signal of a kind: Nest's re-raise once everything is closed, or an operator
 * asking twice. Returns what removes the listeners.
 */
export function exitOnSecondSignal(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): () => void {
  const listeners = signals.map((signal) => {
    let seen = false;
    const listener = () => {
      if (seen) process.exit(0);
      seen = true; // the first: Nest's own listener closes the application
    };
    process.on(signal, listener);
    return () => process.removeListener(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}
