import { createHistogram, recordMs, summarise, type LatencyHistogram, type LatencySummary } from './histogram.js';

/** What a target's reader makes of one answer: the decisions in it and the version they were taken at, or why it is an error. */
export type Answer = { ok: true; decisions: readonly boolean[]; version: string | null } | { ok: false; error: string };

/** One second of a phase, by completion time (the drain after its end counted in its last second): how many answers came back and how late. */
export interface TimelinePoint {
  /** Seconds since the run (all steps of a ramp) began, at the end of this second of its phase. */
  t: number;
  responses: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  /** The ramp step this second belongs to (0 outside a ramp). */
  step: number;
}

/**
 * Counts and latencies of one phase (a run, or one step of a ramp). Latency is recorded for
 * every answer, whatever its status, and for every timeout (at the time it gave up, so a
 * server that never answers is never faster than the timeout); a connection refused or reset
 * has no latency and is only counted. `decisions` counts one per check answered (a batch of
 * N answers N).
 */
export class PhaseRecorder {
  readonly latency: LatencyHistogram = createHistogram();
  /** Open model: how late the scheduler dispatched each request after its slot (the generator's own delay). */
  readonly sendLag: LatencyHistogram = createHistogram();
  sent = 0;
  responses = 0;
  errors = 0;
  /** Errors without an answer: timeouts, connection errors, dropped requests. */
  unanswered = 0;
  dropped = 0;
  allowed = 0;
  denied = 0;
  wrong = 0;
  checked = 0;
  readonly statuses = new Map<number, number>();
  readonly errorKinds = new Map<string, number>();
  readonly versions = new Map<string, number>();
  readonly timeline: TimelinePoint[] = [];
  /** performance.now() of the first dispatch and the last completion: the phase's measured span. */
  firstSend = Number.NaN;
  lastDone = Number.NaN;

  readonly #window: LatencyHistogram = createHistogram();
  #windowIndex = 0;
  #windowResponses = 0;
  #windowErrors = 0;

  /** Seconds from the run's start (shared by a ramp's steps) to this phase's start. */
  readonly #offsetS: number;
  /** The phase's last whole second: answers that come in after the phase ended (the drain) count in it. */
  readonly #lastIndex: number;
  /** Set when the phase was cut short (Ctrl-C): its span is then what ran, not what was asked. */
  interrupted = false;

  constructor(
    /** performance.now() at which the phase starts; its seconds are counted from there. */
    private readonly started: number,
    /** performance.now() of the run's start: the timeline's zero. */
    clockZero: number,
    readonly durationMs: number,
    private readonly step: number,
  ) {
    this.#offsetS = (started - clockZero) / 1000;
    this.#lastIndex = Math.max(0, Math.ceil(durationMs / 1000) - 1);
  }

  noteSend(at: number): void {
    this.sent++;
    if (Number.isNaN(this.firstSend)) this.firstSend = at;
  }

  noteDropped(): void {
    this.dropped++;
    this.unanswered++;
    this.#countError('dropped: too many requests in flight (--max-in-flight)');
  }

  /** An answer came back `ms` after its send; `expect` holds the expected decisions, when the workload has them. */
  answer(at: number, ms: number, status: number, answer: Answer, expect: readonly (boolean | null)[] | null): void {
    this.#advance(at);
    this.responses++;
    this.#windowResponses++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    recordMs(this.latency, ms);
    recordMs(this.#window, ms);
    if (!answer.ok) {
      this.#countError(answer.error);
      return;
    }
    const { decisions } = answer;
    for (let i = 0; i < decisions.length; i++) {
      if (decisions[i]) this.allowed++;
      else this.denied++;
      const expected = expect?.[i];
      if (expected !== undefined && expected !== null) {
        this.checked++;
        if (expected !== decisions[i]) this.wrong++;
      }
    }
    if (answer.version !== null) this.versions.set(answer.version, (this.versions.get(answer.version) ?? 0) + 1);
  }

  /** A request that got no answer; `ms` is set for a timeout, whose wait is a latency too. */
  failure(at: number, kind: string, ms: number | null): void {
    this.#advance(at);
    this.unanswered++;
    if (ms !== null) {
      recordMs(this.latency, ms);
      recordMs(this.#window, ms);
    }
    this.#countError(kind);
  }

  #countError(kind: string): void {
    this.errors++;
    this.#windowErrors++;
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  /** Closes the seconds that ended before `at`: completions come in time order, so one live window suffices. */
  #advance(at: number): void {
    this.lastDone = Number.isNaN(this.lastDone) ? at : Math.max(this.lastDone, at);
    const index = Math.min(this.#lastIndex, Math.floor((at - this.started) / 1000));
    while (index > this.#windowIndex) this.#closeWindow();
  }

  #closeWindow(): void {
    const s = summarise(this.#window);
    this.timeline.push({ t: Math.round((this.#offsetS + this.#windowIndex + 1) * 1000) / 1000, responses: this.#windowResponses, errors: this.#windowErrors, p50: s.p50, p99: s.p99, max: s.max, step: this.step });
    this.#window.reset();
    this.#windowResponses = 0;
    this.#windowErrors = 0;
    this.#windowIndex++;
  }

  /** Closes the last, partial second. */
  finish(): void {
    if (this.#windowResponses > 0 || this.#windowErrors > 0) this.#closeWindow();
  }

  latencySummary(): LatencySummary {
    return summarise(this.latency);
  }
}
