// chart.js — small SVG charts drawn to the width of their container:
// a horizontal bar chart (the top words) and a time-series line chart (the
// dashboard). No library; each chart redraws itself when its container
// changes width. Every chart has a <title> and <desc> for screen readers,
// and the pages show the same figures in a table or text next to it.

const NS = 'http://www.w3.org/2000/svg';
let uid = 0;

function el(name, attrs, parent, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that cuts
// max into about `count` intervals.
export function niceStep(max, count) {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / pow;
  const step = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return step * pow;
}

export function niceTicks(max, count) {
  const step = niceStep(max, count);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const observers = new WeakMap();

// watch redraws a chart when its container's width changes.
function watch(container, draw) {
  container._draw = draw;
  if (observers.has(container) || typeof ResizeObserver === 'undefined') return;
  let lastWidth = container.clientWidth;
  let pending = false;
  const ro = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w === lastWidth || pending) return;
    lastWidth = w;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (container._draw) container._draw();
    });
  });
  ro.observe(container);
  observers.set(container, ro);
}

function frame(container, width, height, title, desc) {
  const id = `chart-${++uid}`;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width: '100%',
    height,
    role: 'img',
    'aria-labelledby': `${id}-t ${id}-d`,
    class: 'chart-svg',
    preserveAspectRatio: 'xMinYMin meet',
  });
  el('title', { id: `${id}-t` }, svg, title || 'Chart');
  el('desc', { id: `${id}-d` }, svg, desc || '');
  container.replaceChildren(svg);
  return svg;
}

function truncate(text, maxChars) {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(1, maxChars - 1))}…`;
}

const fmtInt = new Intl.NumberFormat();

// barChart draws items [{label, value}] as horizontal bars, largest first
// as given, with a labelled value axis starting at zero.
export function barChart(container, items, opts = {}) {
  const draw = () => {
    const width = Math.max(260, Math.floor(container.clientWidth || 600));
    const charW = width < 420 ? 7 : 7.5;
    const rowH = width < 420 ? 24 : 26;
    const top = 6;
    const axisH = 44;
    const longest = items.reduce((m, i) => Math.max(m, i.label.length), 1);
    const labelW = Math.round(Math.min(width * 0.36, Math.max(48, longest * charW + 14)));
    const maxValue = items.reduce((m, i) => Math.max(m, i.value), 0);
    const valueW = String(fmtInt.format(maxValue)).length * charW + 10;
    const plotW = Math.max(60, width - labelW - valueW - 4);
    const ticks = niceTicks(Math.max(1, maxValue), width < 420 ? 3 : 5);
    const scaleMax = ticks[ticks.length - 1];
    const x = (v) => labelW + (v / scaleMax) * plotW;
    const height = top + items.length * rowH + axisH;
    const desc = opts.desc || items.map((i) => `${i.label}: ${i.value}`).join(', ');
    const svg = frame(container, width, height, opts.title, desc);
    svg.setAttribute('data-bars', String(items.length));

    const grid = el('g', { class: 'grid', 'aria-hidden': 'true' }, svg);
    for (const t of ticks) {
      const gx = x(t);
      el('line', { x1: gx, x2: gx, y1: top, y2: top + items.length * rowH }, grid);
      el('text', { x: gx, y: top + items.length * rowH + 16, 'text-anchor': 'middle', class: 'tick' }, grid, fmtInt.format(t));
    }
    el('text', { x: labelW + plotW / 2, y: height - 6, 'text-anchor': 'middle', class: 'axis-label' }, svg, opts.xLabel || 'Count');

    const bars = el('g', { class: 'bars' }, svg);
    items.forEach((item, i) => {
      const y = top + i * rowH;
      const g = el('g', { class: 'bar-row' }, bars);
      const maxChars = Math.max(3, Math.floor((labelW - 10) / charW));
      const label = el('text', { x: labelW - 8, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'bar-label' }, g, truncate(item.label, maxChars));
      if (label.textContent !== item.label) el('title', {}, label, item.label);
      const w = Math.max(1, x(item.value) - labelW);
      const rect = el('rect', { x: labelW, y: y + 3, width: w, height: rowH - 6, rx: 2, class: 'bar', 'data-word': item.label, 'data-count': item.value }, g);
      el('title', {}, rect, `${item.label}: ${fmtInt.format(item.value)}`);
      el('text', { x: labelW + w + 5, y: y + rowH / 2, 'dominant-baseline': 'central', class: 'bar-value' }, g, fmtInt.format(item.value));
    });
  };
  watch(container, draw);
  draw();
}

function timeLabel(ms, withSeconds) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return withSeconds ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// lineChart draws series [{name, cls, points: [{t, v}]}] (t in ms, v a
// number or null for "no data") over a shared time axis.
export function lineChart(container, series, opts = {}) {
  const draw = () => {
    const width = Math.max(260, Math.floor(container.clientWidth || 600));
    const height = opts.height || (width < 420 ? 170 : 210);
    const padL = 52;
    const padR = 12;
    const padT = 10;
    const padB = 40;
    const all = series.flatMap((s) => s.points);
    const ts = all.map((p) => p.t);
    const t0 = Math.min(...ts);
    const t1 = Math.max(...ts);
    const values = all.map((p) => p.v).filter((v) => v !== null && v !== undefined);
    const maxV = values.length ? Math.max(...values) : 0;
    const ticks = niceTicks(maxV > 0 ? maxV : opts.minMax || 1, 4);
    const top = ticks[ticks.length - 1];
    const plotW = width - padL - padR;
    const plotH = height - padT - padB;
    const x = (t) => padL + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : 0);
    const y = (v) => padT + plotH - (v / top) * plotH;
    const sum = values.reduce((a, b) => a + b, 0);
    const svg = frame(container, width, height, opts.title, opts.desc);
    svg.setAttribute('data-sum', String(Number(sum.toFixed(3))));

    const grid = el('g', { class: 'grid', 'aria-hidden': 'true' }, svg);
    const fmt = opts.yFormat || ((v) => String(v));
    for (const v of ticks) {
      el('line', { x1: padL, x2: width - padR, y1: y(v), y2: y(v) }, grid);
      el('text', { x: padL - 6, y: y(v), 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'tick' }, grid, fmt(v));
    }
    // Time ticks at round times (every 10 s … 1 h), as many as fit.
    const nx = width < 420 ? 3 : 6;
    const span = t1 - t0;
    const steps = [5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3];
    const stepMs = steps.find((st) => span / st <= nx) || 3600e3;
    for (let t = Math.ceil(t0 / stepMs) * stepMs; span > 0 && t <= t1; t += stepMs) {
      const px = x(t);
      if (px < padL + 22 || px > width - padR - 22) continue;
      el('line', { x1: px, x2: px, y1: padT, y2: padT + plotH }, grid);
      el('text', { x: px, y: padT + plotH + 16, 'text-anchor': 'middle', class: 'tick' }, grid, timeLabel(t, stepMs < 60e3));
    }
    el('line', { x1: padL, x2: width - padR, y1: y(0), y2: y(0), class: 'axis' }, svg);
    if (opts.yLabel) el('text', { x: padL, y: height - 4, class: 'axis-label' }, svg, opts.yLabel);

    for (const s of series) {
      let d = '';
      let pen = false;
      for (const p of s.points) {
        if (p.v === null || p.v === undefined) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
        pen = true;
      }
      const g = el('g', { class: `series ${s.cls || ''}` }, svg);
      el('path', { d: d || 'M0,0', class: 'line', fill: 'none' }, g);
      // Points that stand alone (no neighbour to draw a line to) still show.
      s.points.forEach((p, i) => {
        if (p.v === null || p.v === undefined) return;
        const prev = s.points[i - 1];
        const next = s.points[i + 1];
        const alone = (!prev || prev.v === null || prev.v === undefined) && (!next || next.v === null || next.v === undefined);
        if (alone) el('circle', { cx: x(p.t), cy: y(p.v), r: 3, class: 'dot' }, g);
      });
    }
  };
  watch(container, draw);
  draw();
}
