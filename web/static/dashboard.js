// dashboard.js — polls GET /api/v1/stats (and the failed set, and the
// newest batches) and draws the counts, throughput and latency charts,
// the batches with their progress bars, the workers and the failed
// jobs. A poll starts only after the previous one answered, waits the
// chosen interval (1–30 s), and stops while the tab is hidden.
import { lineChart } from './chart.js';
import { fmtDuration, fmtInt, fmtTime, problemText, request } from './api.js';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'wordcount.adminToken';
const INTERVAL_KEY = 'wordcount.pollSeconds';
const PAGE_SIZE = 10;

let intervalS = Number(localStorage.getItem(INTERVAL_KEY)) || 5;
let offset = 0;
let totalFailed = 0;
let wake = null; // resolves the current wait early
let busy = false;

const slider = $('#interval');
const sliderOut = $('#interval-out');
intervalS = Math.min(30, Math.max(1, Math.round(intervalS)));
slider.value = String(intervalS);
sliderOut.textContent = `${intervalS} s`;
slider.addEventListener('input', () => {
  intervalS = Number(slider.value);
  sliderOut.textContent = `${intervalS} s`;
  try {
    localStorage.setItem(INTERVAL_KEY, String(intervalS));
  } catch {
    // Not remembered; still used.
  }
});
slider.addEventListener('change', () => wakeUp());
$('#refresh').addEventListener('click', () => wakeUp());

function wakeUp() {
  if (wake) wake();
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function adminHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('#token').value.trim();
  if (v) sessionStorage.setItem(TOKEN_KEY, v);
  else sessionStorage.removeItem(TOKEN_KEY);
  $('#token').value = '';
  $('#token').placeholder = v ? 'Token set for this tab' : 'Admin or metrics token (if the server needs one)';
  wakeUp();
});
if (token()) $('#token').placeholder = 'Token set for this tab';

function setText(sel, text) {
  const node = $(sel);
  if (node.textContent !== text) node.textContent = text;
}

function fmtRate(v) {
  if (!v) return '0';
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}

function renderStats(s) {
  const c = s.counts || {};
  setText('#count-queued', fmtInt.format(c.queued ?? 0));
  setText('#count-running', fmtInt.format(c.running ?? 0));
  setText('#count-retrying', fmtInt.format(c.retrying ?? 0));
  setText('#count-finished', fmtInt.format(c.finished ?? 0));
  setText('#count-failed', fmtInt.format(c.failed ?? 0));
  setText('#count-failed-set', `${fmtInt.format(c.failed_set ?? 0)} kept in the failed set`);
  setText('#rate-finished', fmtRate(s.rates?.finished_per_s));
  setText('#rate-failed', fmtRate(s.rates?.failed_per_s));
  const lat = s.latency_ms || {};
  setText('#lat-p50', fmtDuration(lat.p50));
  setText('#lat-p95', fmtDuration(lat.p95));
  setText('#lat-window', `last ${Math.round((lat.window_s || 600) / 60)} min, ${fmtInt.format(lat.count || 0)} jobs`);

  const points = s.series?.points || [];
  const step = s.series?.step_s || 10;
  const minutes = Math.round((s.series?.window_s || 600) / 60);
  const fin = points.map((p) => ({ t: p.t_ms, v: p.finished_per_s }));
  const fail = points.map((p) => ({ t: p.t_ms, v: p.failed_per_s }));
  const sumFin = points.reduce((a, p) => a + p.finished, 0);
  const sumFail = points.reduce((a, p) => a + p.failed, 0);
  lineChart($('#chart-throughput'), [
    { name: 'finished', cls: 'finished', points: fin },
    { name: 'failed', cls: 'failed', points: fail },
  ], {
    title: `Jobs finished and failed per second, last ${minutes} minutes`,
    desc: `${sumFin} finished and ${sumFail} failed in the last ${minutes} minutes, in steps of ${step} seconds.`,
    yFormat: (v) => fmtRate(v),
    yLabel: 'jobs per second',
    minMax: 0.5,
  });
  lineChart($('#chart-latency'), [
    { name: 'p50', cls: 'p50', points: points.map((p) => ({ t: p.t_ms, v: p.p50_ms === null ? null : p.p50_ms / 1000 })) },
    { name: 'p95', cls: 'p95', points: points.map((p) => ({ t: p.t_ms, v: p.p95_ms === null ? null : p.p95_ms / 1000 })) },
  ], {
    title: `Latency from submission to result, last ${minutes} minutes`,
    desc: `p50 ${fmtDuration(lat.p50)}, p95 ${fmtDuration(lat.p95)} over the window; gaps where no job finished.`,
    yFormat: (v) => `${v} s`,
    yLabel: 'seconds (p50 solid, p95 dashed)',
    minMax: 1,
  });
  renderWorkers(s.workers || {});
  renderWebhooks(s.webhooks || {});
  renderHosts(s.hosts || []);
}

// renderWebhooks shows the deliveries by outcome and the failing endpoints.
function renderWebhooks(h) {
  setText('#hooks-counts', `${fmtInt.format(h.delivered ?? 0)} delivered, ` +
    `${fmtInt.format(h.retried ?? 0)} attempts to be retried, ${fmtInt.format(h.failed ?? 0)} given up`);
  const list = Array.isArray(h.failing) ? h.failing : [];
  const tbody = $('#hooks-failing tbody');
  tbody.replaceChildren();
  for (const f of list) {
    const tr = document.createElement('tr');
    tr.dataset.url = f.url;
    cell(tr, f.url || '?', 'word');
    cell(tr, f.error || '');
    cell(tr, f.status ? String(f.status) : '–', 'num');
    cell(tr, String(f.attempt ?? ''), 'num');
    cell(tr, f.at ? fmtTime(f.at) : '');
    cell(tr, f.job || '');
    tbody.appendChild(tr);
  }
  $('#hooks-empty').hidden = list.length > 0;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function renderWorkers(w) {
  const list = w.list || [];
  const tbody = $('#workers tbody');
  tbody.replaceChildren();
  for (const k of list) {
    const tr = document.createElement('tr');
    tr.className = k.stale ? 'stale' : '';
    tr.dataset.worker = k.id;
    cell(tr, k.host || '?');
    cell(tr, String(k.pid ?? ''), 'num');
    cell(tr, fmtInt.format(k.inflight ?? 0), 'num');
    cell(tr, fmtInt.format(k.processed ?? 0), 'num');
    cell(tr, fmtInt.format(k.failed ?? 0), 'num');
    cell(tr, `${fmtDuration(k.heartbeat_age_ms)} ago`, 'num');
    const state = cell(tr, '');
    const badge = document.createElement('span');
    badge.className = `badge ${k.stale ? 'stale' : 'ok'}`;
    badge.textContent = k.stale ? 'stale' : 'alive';
    state.appendChild(badge);
    tbody.appendChild(tr);
  }
  $('#workers-empty').hidden = list.length > 0;
  setText('#workers-caption', `${w.alive ?? 0} alive of ${list.length}; stale after ${fmtDuration(w.stale_after_ms)} without a heartbeat`);
}

function renderHosts(list) {
  const tbody = $('#hosts tbody');
  tbody.replaceChildren();
  for (const h of list) {
    const tr = document.createElement('tr');
    tr.dataset.host = h.host;
    cell(tr, h.host);
    cell(tr, fmtInt.format(h.in_flight ?? 0), 'num');
    cell(tr, fmtInt.format(h.waiting ?? 0), 'num');
    cell(tr, h.paused_until ? fmtTime(h.paused_until) : '–');
    cell(tr, fmtInt.format(h.seen_429 ?? 0), 'num');
    cell(tr, fmtInt.format(h.seen_503 ?? 0), 'num');
    cell(tr, h.delay_ms ? fmtDuration(h.delay_ms) : '–', 'num');
    cell(tr, h.robots || '–');
    tbody.appendChild(tr);
  }
  $('#hosts-empty').hidden = list.length > 0;
}

function failedMessage(text, isError) {
  const p = $('#failed-msg');
  p.hidden = !text;
  p.textContent = text || '';
  p.className = `notice${isError ? ' error' : ''}`;
}

async function act(method, path, label) {
  try {
    const res = await request(method, path, { headers: adminHeaders() });
    if (res.status === 401 || res.status === 403) {
      failedMessage('The server refused this: enter the admin token above.', true);
    } else if (!res.ok) {
      failedMessage(`${label} did not work. ${problemText(res)}`, true);
    } else {
      failedMessage(`${label}: done.`, false);
    }
  } catch {
    failedMessage(`${label} did not work: the server cannot be reached.`, true);
  }
  wakeUp();
}

function renderFailed(jobs) {
  const tbody = $('#failed tbody');
  tbody.replaceChildren();
  for (const j of jobs) {
    const tr = document.createElement('tr');
    tr.dataset.job = j.id;
    const page = cell(tr, '');
    const a = document.createElement('a');
    a.href = `/#job=${encodeURIComponent(j.id)}`;
    a.textContent = j.url || j.id;
    page.appendChild(a);
    const err = j.error || {};
    const reasonCell = cell(tr, '', 'reason');
    if (err.code) {
      const code = document.createElement('code');
      code.textContent = err.code;
      reasonCell.append(code, document.createTextNode(' '));
    }
    reasonCell.appendChild(document.createTextNode(err.message || ''));
    cell(tr, fmtTime(j.finished_at));
    const actions = cell(tr, '', 'actions');
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'small retry';
    retry.textContent = 'Retry';
    retry.setAttribute('aria-label', `Retry ${j.url || j.id}`);
    retry.addEventListener('click', () => act('POST', `/api/v1/admin/failed/${encodeURIComponent(j.id)}/retry`, 'Retry'));
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'small danger delete';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete ${j.url || j.id}`);
    del.addEventListener('click', () => act('DELETE', `/api/v1/admin/failed/${encodeURIComponent(j.id)}`, 'Delete'));
    actions.append(retry, del);
    tbody.appendChild(tr);
  }
  const from = jobs.length ? offset + 1 : 0;
  setText('#page-info', `${from}–${offset + jobs.length} of ${fmtInt.format(totalFailed)}`);
  $('#prev').disabled = offset === 0;
  $('#next').disabled = offset + jobs.length >= totalFailed;
}

$('#prev').addEventListener('click', () => {
  offset = Math.max(0, offset - PAGE_SIZE);
  wakeUp();
});
$('#next').addEventListener('click', () => {
  offset += PAGE_SIZE;
  wakeUp();
});

async function loadFailed() {
  let res;
  try {
    res = await request('GET', `/api/v1/admin/failed?limit=${PAGE_SIZE}&offset=${offset}`, { headers: adminHeaders() });
  } catch {
    return;
  }
  if (res.status === 401 || res.status === 403) {
    failedMessage('Enter the admin token to see and manage failed jobs.', false);
    renderFailed([]);
    return;
  }
  if (res.status === 404 && !(res.body && typeof res.body === 'object' && Array.isArray(res.body.jobs))) {
    failedMessage('This server does not offer the failed-jobs admin API.', true);
    return;
  }
  if (!res.ok || !res.body) {
    failedMessage(`The failed jobs cannot be listed. ${problemText(res)}`, true);
    return;
  }
  const b = res.body;
  const jobs = Array.isArray(b) ? b : b.jobs || b.items || [];
  totalFailed = Number(b.total ?? b.count ?? jobs.length) || 0;
  if (jobs.length === 0 && offset > 0 && totalFailed > 0) {
    offset = Math.max(0, Math.floor((totalFailed - 1) / PAGE_SIZE) * PAGE_SIZE);
    return loadFailed();
  }
  if ($('#failed-msg').classList.contains('error') || /admin token/.test($('#failed-msg').textContent)) failedMessage('');
  renderFailed(jobs);
}

// renderBatches draws one row per batch: a progress bar (done of its
// jobs), its lines, failures and invalid lines, and the time left.
function renderBatches(list) {
  const body = $('#batches tbody');
  body.replaceChildren();
  $('#batches-empty').hidden = list.length > 0;
  for (const b of list) {
    const tr = document.createElement('tr');
    const id = document.createElement('td');
    const code = document.createElement('code');
    code.textContent = b.id.slice(-12);
    code.title = b.id;
    id.append(code);
    tr.append(id);
    const bar = document.createElement('td');
    const p = document.createElement('progress');
    p.max = Math.max(1, b.jobs);
    p.value = b.done;
    const pct = Math.floor((b.done_fraction || 0) * 100);
    p.setAttribute('aria-label', `batch ${b.id}: ${b.done} of ${b.jobs} jobs done`);
    p.textContent = `${pct}%`;
    const label = document.createElement('span');
    label.className = 'small muted';
    label.textContent = ` ${pct}%${b.status === 'done' ? ' done' : ''}`;
    bar.append(p, label);
    tr.append(bar);
    cell(tr, fmtInt.format(b.total), 'num');
    cell(tr, fmtInt.format(b.counts?.failed ?? 0), 'num');
    cell(tr, fmtInt.format(b.invalid ?? 0), 'num');
    cell(tr, fmtTime(b.started_at || b.created_at));
    cell(tr, b.status === 'done' ? '–' : b.eta_seconds == null ? '…' : fmtDuration(b.eta_seconds * 1000));
    const ex = document.createElement('td');
    for (const [text, href] of [['NDJSON', b.results_url], ['status', `/api/v1/batches/${b.id}`]]) {
      const a = document.createElement('a');
      a.href = href;
      a.textContent = text;
      ex.append(a, ' ');
    }
    tr.append(ex);
    body.append(tr);
  }
}

async function loadBatches() {
  const res = await request('GET', '/api/v1/batches?limit=10');
  if (res.ok && res.body && Array.isArray(res.body.batches)) renderBatches(res.body.batches);
}

async function poll() {
  if (busy) return;
  busy = true;
  try {
    // Outside development the statistics need a token too (the admin
    // token, or the read-only METRICS_TOKEN); the same field holds it.
    const res = await request('GET', '/api/v1/stats', { headers: adminHeaders() });
    if (res.ok && res.body && typeof res.body === 'object') {
      $('#stats-error').hidden = true;
      renderStats(res.body);
      setText('#updated', `Updated ${new Date().toLocaleTimeString()}`);
    } else if (res.status === 401 || res.status === 403) {
      $('#stats-error').hidden = false;
      $('#stats-error').textContent = res.status === 401
        ? 'The statistics need a token here: enter the admin token (or the metrics token) under Failed jobs.'
        : `The statistics are private on this server. ${problemText(res)}`;
      setText('#updated', 'Waiting for a token');
    } else {
      $('#stats-error').hidden = false;
      $('#stats-error').textContent = `The statistics cannot be read. ${problemText(res)}`;
    }
    await loadBatches();
    await loadFailed();
  } catch {
    $('#stats-error').hidden = false;
    $('#stats-error').textContent = 'The server cannot be reached; trying again.';
  } finally {
    busy = false;
  }
}

function wait(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      wake = null;
      resolve();
    }
    wake = done;
  });
}

function whenVisible() {
  if (!document.hidden) return Promise.resolve();
  setText('#updated', 'Paused while this tab is hidden');
  return new Promise((resolve) => {
    const on = () => {
      if (document.hidden) return;
      document.removeEventListener('visibilitychange', on);
      resolve();
    };
    document.addEventListener('visibilitychange', on);
  });
}

async function run() {
  for (;;) {
    await whenVisible();
    await poll();
    await wait(intervalS * 1000);
  }
}

run();
