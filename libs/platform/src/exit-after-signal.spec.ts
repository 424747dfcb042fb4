import { exitOnSecondSignal } from './exit-after-signal';

describe('exitOnSecondSignal', () => {
  let exit: jest.SpyInstance;
  let remove: () => void;
  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    // SIGUSR2: a signal nothing else in this process listens to, so emitting it here is harmless.
    remove = exitOnSecondSignal(['SIGUSR2']);
  });
  afterEach(() => {
    remove();
    exit.mockRestore();
  });

  it('leaves the first signal to the graceful close and exits on the second (the re-raise PID 1 would drop)', () => {
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exit).not.toHaveBeenCalled();
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exit).toHaveBeenCalledWith(0);
  });
});
