// batch.js — the submit page's list of URLs: sent as one batch (POST
// /api/v1/batches, text/plain), then followed (GET /api/v1/batches/{id},
// honouring Retry-After) with a progress bar until every job has ended,
// with the lines that were not URLs listed and links to the export.
import { fmtDuration, fmtInt, problemText, request, retryAfterMs, sleep } from './api.js';

const $ = (sel) => document.querySelector(sel);
const form = $('#batch-form');
const area = $('#batch-urls');
const button = $('#batch-submit');
const errorText = $('#batch-error');
const box = $('#batch');
const bar = $('#batch-progress');
const statusText = $('#batch-status');

let generation = 0; // bumps when a new batch replaces the one followed

function setError(text) {
  errorText.textContent = text || '';
  area.setAttribute('aria-invalid', text ? 'true' : 'false');
  if (text) area.focus();
}

function showInvalid(lines) {
  const list = $('#batch-invalid');
  list.replaceChildren();
  for (const l of (lines || []).slice(0, 20)) {
    const li = document.createElement('li');
    li.textContent = `Line ${l.index + 1}: ${l.text || '(empty)'}: ${l.reason}`;
    list.append(li);
  }
  if ((lines || []).length > 20) {
    const li = document.createElement('li');
    li.textContent = `… and ${fmtInt.format(lines.length - 20)} more`;
    list.append(li);
  }
}

function showBatch(b) {
  bar.max = Math.max(1, b.jobs);
  bar.value = b.done;
  const c = b.counts || {};
  const left = b.status === 'done' ? 'done' : b.eta_seconds == null ? 'starting' : `about ${fmtDuration(b.eta_seconds * 1000)} left`;
  statusText.textContent = `${fmtInt.format(b.done)} of ${fmtInt.format(b.jobs)} pages done` +
    ` (${fmtInt.format(c.finished ?? 0)} counted, ${fmtInt.format(c.failed ?? 0)} failed), ${left}`;
}

// follow polls the batch until it is done (or another batch replaces it).
async function follow(gen, id) {
  let waitMs = 1000;
  while (gen === generation) {
    let res;
    try {
      res = await request('GET', `/api/v1/batches/${id}`);
    } catch {
      statusText.textContent = 'The server cannot be reached; trying again.';
      await sleep(Math.min(waitMs *= 2, 30000));
      continue;
    }
    if (gen !== generation) return;
    if (!res.ok) {
      statusText.textContent = problemText(res);
      if (res.status === 404) return;
      await sleep(Math.min(waitMs *= 2, 30000));
      continue;
    }
    showBatch(res.body);
    if (res.body.status === 'done') return;
    waitMs = 1000;
    await sleep(Math.max(1000, retryAfterMs(res.headers) ?? 1000));
  }
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = area.value.trim();
  if (!text) {
    setError('Enter at least one address.');
    return;
  }
  setError('');
  button.disabled = true;
  const gen = ++generation;
  try {
    const res = await fetch('/api/v1/batches', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain; charset=utf-8', Accept: 'application/json' },
      body: text,
    });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.status !== 202) {
      setError(problemText({ status: res.status, body }));
      if (body && body.invalid_lines) showInvalid(body.invalid_lines);
      return;
    }
    box.hidden = false;
    showInvalid(body.invalid_lines);
    $('#batch-export').href = `/api/v1/batches/${body.id}/results`;
    $('#batch-csv').href = `/api/v1/batches/${body.id}/results?format=csv`;
    showBatch({ ...body, done: 0, counts: {}, eta_seconds: null });
    follow(gen, body.id);
  } catch {
    setError('The server cannot be reached. Try again in a moment.');
  } finally {
    button.disabled = false;
  }
});
