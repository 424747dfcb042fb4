export interface MicroBatcherOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** How long the first item of a batch waits for others before the batch starts (0 = start at once). */
  maxWaitMs: number;
  /** Batches running at once; further items queue and go together into the next free slot. */
  concurrency: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

/**
 * Groups concurrent submissions into batches so one database transaction serves many requests. Each caller gets
 * its own result when its batch finishes; if `flush` throws, every caller of that batch gets the error.
 * Under light load a batch starts after at most `maxWaitMs`; under heavy load all slots are busy and the queue
 * itself forms the next batch, so batch size grows with load without adding latency at low load.
 */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private running = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly opts: MicroBatcherOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a batch plus batches running, for metrics and shutdown. */
  get backlog(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running };
  }

  private schedule(): void {
    if (this.running >= this.opts.concurrency) return; // a finishing batch takes the queue
    if (this.queue.length >= this.opts.maxBatch || this.opts.maxWaitMs <= 0) return this.dispatch();
    this.timer ??= setTimeout(() => this.dispatch(), this.opts.maxWaitMs);
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.running++;
      void this.run(batch);
      // A remainder smaller than a full batch gets its own short wait for company.
      if (this.queue.length < this.opts.maxBatch) break;
    }
    if (this.queue.length > 0) this.schedule();
  }

  private async run(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length)
        throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.running--;
      // Whatever queued meanwhile has already waited at least one transaction: start it now.
      if (this.queue.length > 0) this.dispatch();
    }
  }
}
