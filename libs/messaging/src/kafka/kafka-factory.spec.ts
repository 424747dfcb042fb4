import { logLevel } from 'kafkajs';
import { levelOf } from './kafka-factory';

describe("kafkajs's log lines at our levels", () => {
  it('keeps errors errors, but a CreateTopics answer with errors (a race ensureTopics retries) is a warning', () => {
    expect(levelOf(logLevel.ERROR, 'Response CreateTopics(key: 19, version: 3)')).toBe('warn');
    expect(levelOf(logLevel.ERROR, 'Response Produce(key: 0, version: 7)')).toBe('error');
    expect(levelOf(logLevel.ERROR, 'Connection error: connect ECONNREFUSED')).toBe('error');
    expect(levelOf(logLevel.WARN, 'Response CreateTopics(key: 19, version: 3)')).toBe('warn');
    expect(levelOf(logLevel.INFO, 'Consumer has joined the group')).toBe('debug');
  });
});
