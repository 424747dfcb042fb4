import { JsonLogger, createLogger } from '@omnipay/observability';
import { onConsumerCrash } from './kafka-consumer.server';

describe('a crashed consumer group', () => {
  const log = new JsonLogger(createLogger('crash-test', 'silent'));
  const crash = (restart: boolean) => ({ payload: { error: new Error('GROUP_AUTHORIZATION_FAILED'), groupId: 'omnipay.orders', restart } });

  it('is left to kafkajs when kafkajs restarts it', () => {
    const exit = jest.fn();
    onConsumerCrash(crash(true), false, log, exit);
    expect(exit).not.toHaveBeenCalled();
  });

  it('stops the service when kafkajs gave it up, so the orchestrator restarts it', () => {
    const exit = jest.fn();
    const fatal = jest.spyOn(log.pino, 'fatal');
    onConsumerCrash(crash(false), false, log, exit);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(fatal).toHaveBeenCalledWith(expect.objectContaining({ groupId: 'omnipay.orders' }), expect.stringContaining('stopped for good'));
  });

  it('does nothing more while the service is shutting down anyway', () => {
    const exit = jest.fn();
    onConsumerCrash(crash(false), true, log, exit);
    expect(exit).not.toHaveBeenCalled();
  });
});
