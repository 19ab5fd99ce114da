/**
 * What a scenario is, and the small tools every scenario uses: CPU meters for the server and the
 * load generator, and the sizes the issue fixes.
 */
import type { ServerProcess } from './server-process.js';
import { machineBusySeconds, type Comparison, type ScenarioResult } from './stats.js';

export interface RunContext {
  /** Results of the scenarios that already ran in this run, by name. */
  readonly results: ReadonlyMap<string, ScenarioResult>;
  log(message: string): void;
}

/** What a scenario measures itself; the runner adds name, description, duration and verdict. */
export interface ScenarioOutcome {
  readonly product: Record<string, unknown>;
  readonly baseline: Record<string, unknown>;
  readonly comparisons: readonly Comparison[];
  readonly complete: boolean;
  readonly notes: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Most a scenario may take before the runner gives up on it (and stops its servers). */
  readonly timeoutMs: number;
  run(context: RunContext): Promise<ScenarioOutcome>;
}

export interface CpuReading {
  /** Server CPU time over the interval / wall time (1 = one full core). */
  readonly serverCores: number;
  /** The load generator's (this process's) CPU time / wall time. */
  readonly loadCores: number;
  /** Everything else on the machine (other sessions, builds, browsers): noise in the figures. */
  readonly otherCores: number;
  readonly serverCpuSeconds: number;
  readonly seconds: number;
}

/** Starts measuring CPU use of `server`, of this process and of the rest; call the result to read it. */
export function cpuMeter(server: ServerProcess): () => CpuReading {
  const wallStart = performance.now();
  const serverStart = server.cpuSeconds();
  const loadStart = process.cpuUsage();
  const machineStart = machineBusySeconds();
  return () => {
    const seconds = (performance.now() - wallStart) / 1000;
    const serverCpuSeconds = server.cpuSeconds() - serverStart;
    const load = process.cpuUsage(loadStart);
    const loadCpuSeconds = (load.user + load.system) / 1e6;
    const other = machineBusySeconds() - machineStart - serverCpuSeconds - loadCpuSeconds;
    return {
      serverCores: serverCpuSeconds / seconds,
      loadCores: loadCpuSeconds / seconds,
      otherCores: Math.max(0, other / seconds),
      serverCpuSeconds,
      seconds,
    };
  };
}

/**
 * Runs `rounds` rounds of the baseline and the product, alternating which goes first
 * (B P, P B, B P, ...), so that drift and other processes' load hit both sides alike.
 */
export async function alternate(rounds: number, baseline: (round: number) => Promise<void>, product: (round: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      await baseline(round);
      await product(round);
    } else {
      await product(round);
      await baseline(round);
    }
  }
}

/**
 * Like {@link alternate} for any number of sides: round r starts with side r mod n and goes on in
 * order (A B C, B C A, C A B, ...), so each side goes first, second and last equally often.
 */
export async function rotate(rounds: number, sides: readonly ((round: number) => Promise<void>)[]): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < sides.length; k++) await sides[(round + k) % sides.length](round);
  }
}

/** The sizes; `BENCH_SCALE` (0 < s ≤ 1) shrinks socket and request counts for quick tries. */
const SCALE = Math.min(1, Math.max(0.01, Number(process.env.BENCH_SCALE ?? 1) || 1));
export const scaled = (n: number): number => Math.max(1, Math.round(n * SCALE));
export const SOCKETS = scaled(5_000);
export const CONNECT_CONCURRENCY = 100;
