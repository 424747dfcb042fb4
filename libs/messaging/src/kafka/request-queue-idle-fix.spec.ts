import { applyKafkajsIdleFix, kafkajsRequestQueue, type RequestQueueInternals } from './request-queue-idle-fix';

interface Entry {
  correlationId: number;
  resolve(): void;
  reject(): void;
}

type Queue = RequestQueueInternals & {
  push(request: { entry: Entry; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  destroy(): void;
};

const RequestQueue = kafkajsRequestQueue() as unknown as new (options: object) => Queue;
const original = kafkajsRequestQueue().prototype.scheduleCheckPendingRequests;
const entry = (correlationId: number): Entry => ({ correlationId, resolve: () => undefined, reject: () => undefined });
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const newQueue = (maxInFlightRequests: number | null = null): Queue =>
  new RequestQueue({ maxInFlightRequests, requestTimeout: 30000, enforceRequestTimeout: false, clientId: 'spec', broker: 'b:9092', logger: silent });

describe('kafkajs request queue idle fix', () => {
  const queues: Queue[] = [];
  const track = (q: Queue) => (queues.push(q), q);
  afterEach(() => queues.splice(0).forEach((q) => q.destroy()));

  it('unpatched kafkajs re-arms a timer after every check with nothing pending (the spin this fix removes)', () => {
    const q = track(newQueue());
    q.scheduleCheckPendingRequests = original;
    q.checkPendingRequests();
    expect(q.pending).toHaveLength(0);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
  });

  it('arms no timer once a response is fulfilled and nothing waits', () => {
    applyKafkajsIdleFix();
    const q = track(newQueue());
    q.push({ entry: entry(1), expectResponse: true, sendRequest: () => undefined });
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still sends a request queued behind a broker throttle once the throttle ends', async () => {
    applyKafkajsIdleFix();
    const q = track(newQueue());
    q.throttledUntil = Date.now() + 30;
    const sent: number[] = [];
    q.push({ entry: entry(7), expectResponse: true, sendRequest: () => sent.push(7) });
    expect(sent).toEqual([]);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 80));
    expect(sent).toEqual([7]);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still sends a request that waited for a free in-flight slot', () => {
    applyKafkajsIdleFix();
    const q = track(newQueue(1));
    const sent: number[] = [];
    q.push({ entry: entry(1), expectResponse: true, sendRequest: () => sent.push(1) });
    q.push({ entry: entry(2), expectResponse: true, sendRequest: () => sent.push(2) });
    expect(sent).toEqual([1]);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(sent).toEqual([1, 2]);
  });

  it('is applied once however many clients are created', () => {
    applyKafkajsIdleFix();
    const patched = kafkajsRequestQueue().prototype.scheduleCheckPendingRequests;
    applyKafkajsIdleFix();
    expect(kafkajsRequestQueue().prototype.scheduleCheckPendingRequests).toBe(patched);
    expect(patched).not.toBe(original);
  });
});
