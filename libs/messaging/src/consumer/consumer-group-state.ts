/**
 * What one consumer group of this process is doing, as `/health/ready` reports it. `restarting`: kafkajs gave up
 * on it and the transport starts a new consumer at `restartAt` (see `crashRestartDelayMs`); `starting` covers the
 * join, including kafkajs's own restart after a crash it can recover from and the watchdog's restart of a silent
 * consumer; `stuck`: the watchdog found a hang nothing in this process can undo (`/health/live` then answers 503,
 * so the orchestrator replaces the process; see `judgeGroup`).
 */
export type ConsumerGroupState =
  | { state: 'starting' | 'running' | 'stopped' }
  | { state: 'restarting'; crashesInARow: number; error: string; restartAt: string }
  | { state: 'stuck'; since: string; reason: string };
