import {
  ACTION_TRANSITIONS,
  READER_ACTION_STATES,
  announcedStatus,
  canTransition,
  isActive,
} from './reader-action-state';

describe('reader action state machine', () => {
  it('moves a pending action to running or to any outcome, and a running one only to an outcome', () => {
    expect(canTransition('pending', 'in_progress')).toBe(true);
    expect(canTransition('in_progress', 'succeeded')).toBe(true);
    expect(canTransition('in_progress', 'timed_out')).toBe(true);
    expect(canTransition('in_progress', 'pending')).toBe(false);
    expect(canTransition('in_progress', 'in_progress')).toBe(false);
  });

  it('never leaves succeeded, so a late failure cannot undo a payment', () => {
    for (const to of READER_ACTION_STATES) expect(canTransition('succeeded', to)).toBe(false);
  });

  it('lets a late success win over a timeout, a failure or a cancel (money was authorised) but nothing else', () => {
    for (const from of ['timed_out', 'failed', 'canceled'] as const) {
      expect(canTransition(from, 'succeeded')).toBe(true);
      for (const to of READER_ACTION_STATES.filter((x) => x !== 'succeeded')) expect(canTransition(from, to)).toBe(false);
    }
  });

  it('holds the reader only while pending or in progress', () => {
    expect(READER_ACTION_STATES.filter(isActive)).toEqual(['pending', 'in_progress']);
    expect(Object.keys(ACTION_TRANSITIONS).sort()).toEqual([...READER_ACTION_STATES].sort());
  });

  it('announces every state but pending', () => {
    expect(announcedStatus('pending')).toBeNull();
    expect(announcedStatus('in_progress')).toBe('started');
    expect(announcedStatus('timed_out')).toBe('timed_out');
  });
});
