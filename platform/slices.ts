/**
 * CPU-heavy work over many items (validating a request's events, a Kafka fetch's messages) run in
 * short slices, one slice per turn of the event loop across every caller, so that the process
 * answers I/O — /healthz, other tenants' requests, heartbeats — between slices however many
 * requests and partitions are being worked on at once.
 *
 * Written here rather than taken from a library: it is the one scheduler the service needs, a FIFO
 * of jobs and a pump of a dozen lines; yielding per job (each caller awaiting setImmediate) bounds
 * nothing when ten callers' slices land in the same turn.
 */

/** How long one slice may run (ms) before the pump yields to the event loop. */
const SLICE_MS = 4;
/** Items between clock reads within a slice. */
const CHECK_EVERY = 1;

interface Job {
  next: () => boolean;
  done: () => void;
  fail: (err: unknown) => void;
}

const jobs: Job[] = [];
let pumping = false;

function pump() {
  const started = performance.now();
  // One slice: jobs in turn (round-robin) until the slice's time is used.
  while (jobs.length > 0 && performance.now() - started < SLICE_MS) {
    const job = jobs.shift()!;
    let more: boolean;
    try {
      more = job.next();
    } catch (err) {
      job.fail(err);
      continue;
    }
    if (more) jobs.push(job);
    else job.done();
  }
  if (jobs.length > 0) setImmediate(pump);
  else pumping = false;
}

/**
 * Calls `work` for each item, in order, in slices shared with every other caller; resolves when all
 * are done (rejects with the first error `work` throws: it should not throw).
 */
export function forEachInSlices<T>(
  items: readonly T[],
  work: (item: T, index: number) => void,
): Promise<void> {
  if (items.length === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let i = 0;
    jobs.push({
      next: () => {
        const started = performance.now();
        // A job's turn: up to CHECK_EVERY items at a time while the slice lasts.
        while (i < items.length) {
          const end = Math.min(items.length, i + CHECK_EVERY);
          for (; i < end; i++) work(items[i]!, i);
          if (performance.now() - started >= SLICE_MS / 2) break;
        }
        return i < items.length;
      },
      done: resolve,
      fail: reject,
    });
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}
