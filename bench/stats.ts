/**
 * Figures: percentiles, the machine a run came from, and the shape of a scenario's result.
 */
import fs from 'node:fs';
import os from 'node:os';

/** The `q`-quantile (0..1) of `values` by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}

/** Busy CPU seconds of the whole machine so far, from /proc/stat (10 ms resolution). */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * One product-vs-baseline comparison. `ratio` is product / baseline; the target bounds it
 * (`min` for throughput, `max` for latency and cost); no target means "report only".
 */
export interface Comparison {
  readonly metric: string;
  readonly unit: string;
  readonly product: number;
  readonly baseline: number;
  readonly ratio: number;
  readonly target: { readonly min?: number; readonly max?: number } | undefined;
  readonly pass: boolean | undefined;
}

export function compare(
  metric: string,
  unit: string,
  product: number,
  baseline: number,
  target?: { min?: number; max?: number },
): Comparison {
  const ratio = product / baseline;
  let pass: boolean | undefined;
  if (target) pass = Number.isFinite(ratio) && (target.min === undefined || ratio >= target.min) && (target.max === undefined || ratio <= target.max);
  return { metric, unit, product: round(product), baseline: round(baseline), ratio: round(ratio, 3), target, pass };
}

/** A figure with no baseline to compare with: shown in the table, judged by nobody. */
export function report(metric: string, unit: string, product: number): Comparison {
  return { metric, unit, product: round(product), baseline: Number.NaN, ratio: Number.NaN, target: undefined, pass: undefined };
}

export function targetText(target: Comparison['target']): string {
  if (!target) return 'report';
  if (target.min !== undefined && target.max !== undefined) return `${target.min}–${target.max}×`;
  if (target.min !== undefined) return `≥ ${target.min}×`;
  return `≤ ${target.max}×`;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  /** Raw figures, free-form but numeric where possible. */
  readonly product: Record<string, unknown>;
  readonly baseline: Record<string, unknown>;
  readonly comparisons: readonly Comparison[];
  /** Every expected delivery (or response) arrived, exactly as expected. */
  readonly complete: boolean;
  /** Why `complete` is false, or anything else worth reading. */
  readonly notes: readonly string[];
  /** All targets met and complete; undefined when there is no target. */
  readonly pass: boolean | undefined;
  readonly seconds: number;
}

export function scenarioPass(complete: boolean, comparisons: readonly Comparison[]): boolean | undefined {
  const judged = comparisons.filter((c) => c.pass !== undefined);
  if (!complete) return false;
  if (judged.length === 0) return undefined;
  return judged.every((c) => c.pass);
}
