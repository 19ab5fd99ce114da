/**
 * admin-charts.js — the operator console's charts: this node's key figures over the last ten
 * minutes, sampled from GET /control/stats every few seconds and drawn with uPlot (served by this
 * server from its own dependencies): sockets, notifications and chat messages per second, and the
 * event loop's delay. Counters become rates between two samples; a restart (a counter going down)
 * starts them again.
 */
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { api } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);
export const SAMPLE_MS = 5000;
const KEEP = 120;

const CHARTS = [
  { id: 'chart-sockets', title: 'Sockets', series: [{ label: 'sockets', stroke: '#1f5fbf', value: (s) => s.sockets }] },
  {
    id: 'chart-traffic',
    title: 'Per second',
    series: [
      { label: 'notifications/s', stroke: '#1f5fbf', rate: (s) => s.notifications },
      { label: 'chat messages/s', stroke: '#2e7d32', rate: (s) => s.chatMessages },
    ],
  },
  { id: 'chart-lag', title: 'Event loop p99 (ms)', series: [{ label: 'delay ms', stroke: '#b3261e', value: (s) => s.eventLoopLagSeconds * 1000 }] },
];

const format = (value) => (value === null || value === undefined ? '–' : Number.isInteger(value) ? String(value) : value.toFixed(1));

export function chartsPanel() {
  const ui = { status: $('#charts-status'), node: $('#charts-node') };
  const times = [];
  const columns = CHARTS.map((chart) => chart.series.map(() => []));
  let previous = null;
  let plots = [];
  let timer = null;

  function width(container) {
    return Math.max(200, Math.floor(container.clientWidth || 300));
  }

  function build() {
    plots = CHARTS.map((chart, i) => {
      const container = $(`#${chart.id}`);
      container.replaceChildren();
      const opts = {
        title: chart.title,
        width: width(container),
        height: 140,
        legend: { show: true, live: false },
        // always the last ten minutes, however few samples there are yet
        scales: { x: { time: true, range: (_u, _min, max) => [max - (KEEP * SAMPLE_MS) / 1000, max] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, ...chart.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: true, size: 4 } }))],
        axes: [{}, { size: 50 }],
      };
      return new uPlot(opts, [times, ...columns[i]], container);
    });
  }

  async function sample() {
    const res = await api('GET', '/control/stats');
    if (!res.ok || !res.json?.meta) {
      ui.status.textContent = `no figures: ${res.error ?? 'unknown error'}`;
      return;
    }
    const stats = res.json.meta;
    const now = Date.parse(stats.time) / 1000;
    ui.node.textContent = stats.node;
    const seconds = previous ? now - previous.time : 0;
    times.push(now);
    CHARTS.forEach((chart, i) =>
      chart.series.forEach((s, j) => {
        let value;
        if (s.value) value = s.value(stats);
        else if (!previous || seconds <= 0 || s.rate(stats) < s.rate(previous.stats)) value = null;
        else value = (s.rate(stats) - s.rate(previous.stats)) / seconds;
        columns[i][j].push(value);
      }),
    );
    previous = { time: now, stats };
    if (times.length > KEEP) {
      times.shift();
      for (const chart of columns) for (const column of chart) column.shift();
    }
    plots.forEach((plot, i) => plot.setData([times, ...columns[i]]));
    ui.status.dataset.samples = String(times.length);
    // the latest values in words, for those who do not read charts (and screen readers)
    const latest = CHARTS.flatMap((chart, i) => chart.series.map((s, j) => `${s.label} ${format(columns[i][j].at(-1))}`));
    ui.status.textContent = `Now: ${latest.join(' · ')} (a sample every ${SAMPLE_MS / 1000} s)`;
  }

  function start() {
    if (timer) return;
    if (plots.length === 0) build();
    sample();
    timer = setInterval(sample, SAMPLE_MS);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  window.addEventListener('resize', () => {
    plots.forEach((plot, i) => plot.setSize({ width: width($(`#${CHARTS[i].id}`)), height: 140 }));
  });
  return { start, stop };
}
