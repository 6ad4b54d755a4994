import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { recordMs } from './histogram.js';
import { PhaseRecorder, type Answer } from './recorder.js';

/**
 * The load generator: its own scheduler over undici's keep-alive connection pool, for both
 * load models.
 *
 * Why not autocannon, which the bench uses: its rate limit (`overallRate`) is a budget per
 * connection per second, so a "fixed rate" is each connection sending its share as fast as
 * answers come and then waiting for the next second (bursts, not an even stream; see
 * bench/RESULTS.md), and its latency runs from the moment a connection wrote the request. A
 * connection held by a stalled server sends nothing, so the requests that should have gone
 * out meanwhile are never sent and never measured: the stall is hidden (coordinated
 * omission). Here the open model dispatches each request at its own slot, evenly spread,
 * whatever the server is doing; a request that finds every connection busy waits in the pool,
 * and that wait is part of its latency. The closed model uses the same engine so both count
 * the same way. undici's `dispatch` costs about as much client CPU per request as autocannon
 * (measured on this machine: 37-40 µs against 30-34 µs; node:http's agent 69-76 µs).
 */

/** One request, prepared once before the run (bodies serialised, headers built). */
export interface PreparedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The decision each check of the request should get, where the workload says (null: unknown). */
  expect: readonly (boolean | null)[] | null;
}

/** Reads one answer of the target endpoint. */
export type AnswerReader = (status: number, headers: IncomingHttpHeaders, body: string) => Answer;

export interface Progress {
  /** Seconds since the phase began. */
  elapsedS: number;
  /** Answers (and failures) completed in the last second. */
  lastSecond: number;
  recorder: PhaseRecorder;
  inFlight: number;
}

export interface EngineOptions {
  url: string;
  /** Closed model: the connections; open model: at most this many, requests beyond wait for one. */
  connections: number;
  timeoutMs: number;
  read: AnswerReader;
}

export interface PhaseOptions {
  requests: readonly PreparedRequest[];
  durationMs: number;
  /** performance.now() of the run's start: the timeline's zero. */
  clockZero: number;
  step?: number;
  onProgress?: (progress: Progress) => void;
  /** Ends the phase early (Ctrl-C): what was sent is still waited for and counted. */
  signal?: AbortSignal;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function errorKind(error: Error & { code?: string }): { kind: string; timeout: boolean } {
  const code = error.code ?? error.name;
  if (TIMEOUT_CODES.has(code)) return { kind: 'timeout', timeout: true };
  if (code === 'UND_ERR_SOCKET' && error.cause && typeof (error.cause as { code?: string }).code === 'string') return { kind: (error.cause as { code: string }).code, timeout: false };
  return { kind: code === 'Error' ? error.message : code, timeout: false };
}

export class LoadEngine {
  readonly #pool: Pool;
  readonly #options: EngineOptions;
  #inFlight = 0;
  #next = 0;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#pool = new Pool(options.url, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Sends one request; `done` runs once with the time it completed. */
  #send(request: PreparedRequest, recorder: PhaseRecorder, started: number, done: () => void): void {
    this.#inFlight++;
    recorder.noteSend(started);
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let settled = false;
    const settle = () => {
      settled = true;
      this.#inFlight--;
      done();
    };
    this.#pool.dispatch(
      { method: request.method, path: request.path, headers: request.headers, ...(request.body === undefined ? {} : { body: request.body }) },
      {
        // undici takes a handler as the new-style interface only when it has onRequestStart.
        onRequestStart: () => {},
        onResponseStart: (_controller, statusCode, responseHeaders) => {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData: (_controller, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          if (settled) return;
          const now = performance.now();
          let answer: Answer;
          try {
            answer = this.#options.read(status, headers, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
          } catch (error) {
            answer = { ok: false, error: `unreadable answer: ${(error as Error).message}` };
          }
          recorder.answer(now, now - started, status, answer, request.expect);
          settle();
        },
        onResponseError: (_controller, error) => {
          if (settled) return;
          const now = performance.now();
          const { kind, timeout } = errorKind(error);
          recorder.failure(now, kind, timeout ? now - started : null);
          settle();
        },
      },
    );
  }

  #nextRequest(requests: readonly PreparedRequest[]): PreparedRequest {
    const request = requests[this.#next % requests.length]!;
    this.#next = (this.#next + 1) % requests.length;
    return request;
  }

  /** Reports progress once a second until `stop` is called. */
  #progress(recorder: PhaseRecorder, started: number, onProgress: PhaseOptions['onProgress']): () => void {
    if (!onProgress) return () => {};
    let last = 0;
    const timer = setInterval(() => {
      const completed = recorder.responses + recorder.errors;
      onProgress({ elapsedS: (performance.now() - started) / 1000, lastSecond: completed - last, recorder, inFlight: this.#inFlight });
      last = completed;
    }, 1000);
    return () => clearInterval(timer);
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const poll = () => (this.#inFlight === 0 ? resolve() : setTimeout(poll, 2));
      poll();
    });
  }

  /**
   * Closed model: `connections` requests in flight, each followed by the next as soon as it
   * is answered. Latency runs from the send. This is how most services call Castellan, and it
   * measures capacity; it cannot show what a caller arriving during a stall would wait (see
   * the open model).
   */
  async closed(options: PhaseOptions & { connections: number }): Promise<PhaseRecorder> {
    const started = performance.now();
    const recorder = new PhaseRecorder(started, options.clockZero, options.durationMs, options.step ?? 0);
    const deadline = started + options.durationMs;
    const stopProgress = this.#progress(recorder, started, options.onProgress);
    const loop = () => {
      const now = performance.now();
      if (now >= deadline || options.signal?.aborted) return;
      // A failure can complete within dispatch: continue on the next turn, not deeper in the stack.
      this.#send(this.#nextRequest(options.requests), recorder, now, () => setImmediate(loop));
    };
    for (let i = 0; i < options.connections; i++) loop();
    await sleep(options.durationMs, options.signal);
    await this.#drained();
    stopProgress();
    recorder.interrupted = options.signal?.aborted === true;
    recorder.finish();
    return recorder;
  }

  /**
   * Open model: `rate` requests a second, request i due at start + i/rate, sent whatever the
   * server is doing. Latency runs from the moment the scheduler dispatched the request (within
   * a timer tick of its slot, the lag recorded apart as the generator's own); time spent
   * waiting for a free connection while the server is slow is part of it. Requests still in
   * flight at the end are waited for and counted: dropping them would drop the slowest.
   */
  async open(options: PhaseOptions & { rate: number; maxInFlight: number }): Promise<PhaseRecorder> {
    const started = performance.now();
    const recorder = new PhaseRecorder(started, options.clockZero, options.durationMs, options.step ?? 0);
    const total = Math.max(1, Math.round((options.rate * options.durationMs) / 1000));
    const interval = 1000 / options.rate;
    const stopProgress = this.#progress(recorder, started, options.onProgress);
    let dispatched = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor((now - started) / interval) + 1);
        for (; dispatched < due; dispatched++) {
          recordMs(recorder.sendLag, now - (started + dispatched * interval));
          if (this.#inFlight >= options.maxInFlight) recorder.noteDropped();
          else this.#send(this.#nextRequest(options.requests), recorder, now, noop);
        }
        if (dispatched >= total || options.signal?.aborted) return resolve();
        // Node's timers fire a millisecond apart at best: at higher rates each tick sends the
        // requests whose slots have passed, so sends stay within about a millisecond of their slot.
        setTimeout(tick, Math.max(0, Math.min(interval, started + dispatched * interval - performance.now())));
      };
      tick();
    });
    await this.#drained();
    stopProgress();
    recorder.interrupted = options.signal?.aborted === true;
    recorder.finish();
    return recorder;
  }

  /** Sends every request once, `concurrency` at a time, unrecorded, so caches are warm before measuring; stops after `limitMs`. */
  async warmup(requests: readonly PreparedRequest[], concurrency: number, limitMs: number): Promise<PhaseRecorder> {
    const recorder = new PhaseRecorder(performance.now(), performance.now(), limitMs, 0);
    const deadline = performance.now() + limitMs;
    let index = 0;
    await new Promise<void>((resolve) => {
      let running = 0;
      const pump = () => {
        while (running < concurrency && index < requests.length && performance.now() < deadline) {
          running++;
          this.#send(requests[index++]!, recorder, performance.now(), () => {
            running--;
            setImmediate(pump);
          });
        }
        if (running === 0) resolve();
      };
      pump();
    });
    recorder.finish();
    return recorder;
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

const noop = () => {};
