/**
 * `npm run bench [-- <scenario>...]`: runs the scenarios (all, or those named), prints a table and
 * writes the figures with the machine they came from.
 *
 * A full run at full scale writes `bench/results.json` (and `bench/results.md`, the table in
 * Markdown for BENCHMARKS.md); a partial or scaled-down run (`BENCH_SCALE=0.1`) writes
 * `bench/results.local.json` instead, so it never replaces the published figures.
 * Every scenario has a time limit; whatever happens, every server started is stopped and the
 * process exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keptLogs, PROJECT_ROOT, stopAll } from './server-process.js';
import type { RunContext, Scenario } from './scenario.js';
import { channelsEfficient } from './scenarios/channels-efficient.js';
import { chat } from './scenarios/chat.js';
import { cluster } from './scenarios/cluster.js';
import { connect } from './scenarios/connect.js';
import { controlPath } from './scenarios/control-path.js';
import { durability } from './scenarios/durability.js';
import { efficient } from './scenarios/efficient.js';
import { fanOut } from './scenarios/fan-out.js';
import { postgres } from './scenarios/postgres.js';
import { replay } from './scenarios/replay.js';
import { subscribe } from './scenarios/subscribe.js';
import { subscribeBig } from './scenarios/subscribe-big.js';
import { webhooks } from './scenarios/webhooks.js';
import { machineBusySeconds, machineInfo, round, scenarioPass, targetText, type ScenarioResult } from './stats.js';

/** In run order: chat compares itself with fan-out, so fan-out comes first. */
const SCENARIOS: readonly Scenario[] = [fanOut, efficient, channelsEfficient, controlPath, subscribe, connect, chat, durability, webhooks, replay, subscribeBig, postgres, cluster];

const slug = (name: string) => name.replace(/\s+/g, '-').toLowerCase();

function selected(args: readonly string[]): Scenario[] {
  if (args.length === 0) return [...SCENARIOS];
  const unknown = args.filter((arg) => !SCENARIOS.some((scenario) => slug(scenario.name) === slug(arg)));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.map((s) => slug(s.name)).join(', ')}`);
  }
  return SCENARIOS.filter((scenario) => args.some((arg) => slug(arg) === slug(scenario.name)));
}

/** Needed descriptors: sockets in this process plus headroom; Node cannot raise the limit itself. */
function checkDescriptorLimit(needed: number): void {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const match = /Max open files\s+(\d+|unlimited)/.exec(limits);
  const soft = match && match[1] !== 'unlimited' ? Number(match[1]) : Number.POSITIVE_INFINITY;
  if (soft < needed) {
    throw new Error(`open file limit is ${soft}, the benchmark needs about ${needed}: run \`ulimit -n ${needed * 2}\` (within the hard limit) first`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runScenario(scenario: Scenario, results: ReadonlyMap<string, ScenarioResult>): Promise<ScenarioResult> {
  const context: RunContext = {
    results,
    log: (message) => process.stderr.write(`  [${scenario.name}] ${message}\n`),
  };
  const started = performance.now();
  process.stderr.write(`▶ ${scenario.name}: ${scenario.description}\n`);
  try {
    const outcome = await withTimeout(scenario.run(context), scenario.timeoutMs, scenario.name);
    return {
      name: scenario.name,
      description: scenario.description,
      ...outcome,
      pass: scenarioPass(outcome.complete, outcome.comparisons),
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } catch (error) {
    return {
      name: scenario.name,
      description: scenario.description,
      product: {},
      baseline: {},
      comparisons: [],
      complete: false,
      notes: [`failed: ${(error as Error).stack ?? error}`],
      pass: false,
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await stopAll();
  }
}

function formatNumber(value: number, unit: string): string {
  if (Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (unit === 'B') return `${round(value / 1024, 1)} KiB`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit === '/s' ? '/s' : ` ${unit}`}`;
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? '—' : pass ? 'pass' : 'FAIL';
}

/** Rows of the summary table: one per comparison, plus a row for a scenario that has none. */
function tableRows(results: readonly ScenarioResult[]): string[][] {
  const rows: string[][] = [];
  for (const result of results) {
    const deliveries = result.complete ? 'all' : 'MISSING';
    if (result.comparisons.length === 0) rows.push([result.name, '(no figures)', '', '', '', '', verdict(result.pass), deliveries]);
    for (const c of result.comparisons) {
      rows.push([result.name, c.metric, formatNumber(c.product, c.unit), formatNumber(c.baseline, c.unit), Number.isNaN(c.ratio) ? '—' : `${c.ratio}×`, targetText(c.target), verdict(c.pass), deliveries]);
    }
  }
  return rows;
}

const HEADER = ['scenario', 'metric', 'product', 'baseline', 'ratio', 'target', 'result', 'deliveries'];

function textTable(rows: string[][]): string {
  const widths = HEADER.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  return [line(HEADER), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Cores kept busy by the whole machine over `ms`, from /proc/stat: nothing of ours runs yet. */
async function busyCores(ms: number): Promise<number> {
  const start = machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (machineBusySeconds() - start) / (ms / 1000);
}

async function main(): Promise<void> {
  const scenarios = selected(process.argv.slice(2));
  checkDescriptorLimit(12_000);
  const machine = { ...machineInfo(), busyCoresBeforeRun: round(await busyCores(1_000)), loadAverage: os.loadavg().map((load) => round(load)) };
  if (machine.busyCoresBeforeRun > 0.2) {
    process.stderr.write(`warning: other processes keep ${machine.busyCoresBeforeRun} cores busy; figures will be noisy (see otherCores)\n`);
  }
  const scale = Number(process.env.BENCH_SCALE ?? 1) || 1;
  const started = performance.now();
  const results = new Map<string, ScenarioResult>();
  for (const scenario of scenarios) results.set(scenario.name, await runScenario(scenario, results));
  const seconds = round((performance.now() - started) / 1000, 1);

  const all = [...results.values()];
  const rows = tableRows(all);
  const memoryGiB = round(machine.memoryBytes / 2 ** 30, 1);
  const machineLine = `${machine.cpuModel}, ${machine.cores} cores, ${memoryGiB} GiB, Node ${machine.node}, ${machine.platform}, ${machine.date}`;
  console.log(`\n${machineLine}${scale !== 1 ? `, BENCH_SCALE=${scale}` : ''}; ${seconds} s; other load before the run: ${machine.busyCoresBeforeRun} cores\n`);
  console.log(textTable(rows));
  for (const result of all) {
    for (const note of result.notes) console.log(`  ${result.name}: ${note}`);
    const other = Math.max(Number(result.product.otherCores ?? 0), Number(result.baseline.otherCores ?? 0));
    if (other > 0.25) console.log(`  ${result.name}: noisy: other processes kept ${round(other)} cores busy while it ran`);
  }
  for (const kept of keptLogs) console.log(`  server log kept (exit ${kept.exitCode}): ${kept.label}: ${kept.file}`);

  const full = scenarios.length === SCENARIOS.length && scale === 1;
  const file = path.join(PROJECT_ROOT, 'bench', full ? 'results.json' : 'results.local.json');
  const report = { machine, scale, seconds, scenarios: all };
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  if (full) {
    const markdown = `Measured ${machine.date.slice(0, 10)} on ${machineLine.replace(`, ${machine.date}`, '')}; whole run ${seconds} s.\n\n${markdownTable(rows)}\n`;
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results.md'), markdown);
  }
  console.log(`\nwrote ${path.relative(PROJECT_ROOT, file)}`);
  process.exitCode = all.every((result) => !result.notes.some((note) => note.startsWith('failed:'))) ? 0 : 1;
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  })
  .finally(async () => {
    await stopAll();
    // lingering client sockets or timers must not keep a finished run alive
    process.exit();
  });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}
