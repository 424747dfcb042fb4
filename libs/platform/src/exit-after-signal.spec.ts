import { exitOnSecondSignal, listenersOf } from './exit-after-signal';

describe('exitOnSecondSignal', () => {
  let exit: jest.SpyInstance;
  const removers: (() => void)[] = [];
  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  });
  afterEach(() => {
    removers.splice(0).forEach((remove) => remove());
    process.removeAllListeners('SIGUSR2');
    exit.mockRestore();
  });

  // SIGUSR2: a signal nothing else in this process listens to, so emitting it here is harmless.
  it('leaves the first signal to the graceful close and exits 0 on the second (the re-raise PID 1 would drop)', () => {
    removers.push(exitOnSecondSignal(['SIGUSR2']));
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exit).not.toHaveBeenCalled();
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exit).toHaveBeenCalledWith(0);
  });

  it('exits 0 once the close is done (its listener gone), and 128 + the signal number when a second signal cuts it short', () => {
    // A stand-in for Nest's listener: attached before, removed when the close is done.
    const close = () => undefined;
    process.on('SIGUSR2', close);
    removers.push(exitOnSecondSignal(['SIGUSR2']));
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2'); // an operator while the close still runs
    expect(exit).toHaveBeenLastCalledWith(128 + 12); // SIGUSR2 is 12 on Linux
    process.removeListener('SIGUSR2', close);
    process.emit('SIGUSR2', 'SIGUSR2'); // the re-raise after the close
    expect(exit).toHaveBeenLastCalledWith(0);
  });

  it('does not take a listener attached before the close for the close itself', () => {
    const permanent = () => undefined; // e.g. a library's own, attached before Nest's and never removed
    process.on('SIGUSR2', permanent);
    const before = listenersOf(['SIGUSR2']);
    const close = () => undefined;
    process.on('SIGUSR2', close);
    removers.push(exitOnSecondSignal(['SIGUSR2'], before));
    process.emit('SIGUSR2', 'SIGUSR2');
    process.removeListener('SIGUSR2', close);
    process.emit('SIGUSR2', 'SIGUSR2'); // the re-raise after the close: a clean stop
    expect(exit).toHaveBeenLastCalledWith(0);
  });
});
