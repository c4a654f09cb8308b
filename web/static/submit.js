// submit.js — the submit page: send a URL, follow the job until it ends
// (its Server-Sent Events stream, or, where that is not available, polls
// that honour Retry-After and back off), then show the totals, a chart
// and a table of the top words, and remember the result in this browser.
import { barChart } from './chart.js';
import { fmtInt, fmtTime, problemText, request, retryAfterMs, sleep } from './api.js';

const $ = (sel) => document.querySelector(sel);
const form = $('#submit-form');
const urlInput = $('#url');
const submitBtn = $('#submit');
const urlError = $('#url-error');
const jobBox = $('#job');
const statusBox = $('#status');
const resultBox = $('#result');
const topN = $('#top-n');

const RECENT_KEY = 'wordcount.recent';
const RECENT_MAX = 8;
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 10000;
const ERROR_MAX_MS = 30000;
// With no event this soon after opening the stream (a proxy that buffers
// it), the page polls instead.
const SSE_FIRST_EVENT_MS = 5000;
const SSE_STATES = ['queued', 'started', 'retrying', 'finished', 'failed', 'canceled'];

let generation = 0; // bumps when a new job replaces the one followed
let currentJob = null;

function setFieldError(text) {
  urlError.textContent = text || '';
  urlInput.setAttribute('aria-invalid', text ? 'true' : 'false');
  if (text) urlInput.focus();
}

function setStatus(kind, text, busy) {
  statusBox.className = `status ${kind}`;
  statusBox.replaceChildren();
  if (busy) {
    const s = document.createElement('span');
    s.className = 'spinner';
    s.setAttribute('aria-hidden', 'true');
    statusBox.appendChild(s);
  }
  statusBox.appendChild(document.createTextNode(text));
}

function setSteps(status) {
  const order = ['queued', 'started', 'finished'];
  const at = { queued: 0, started: 1, retrying: 1, finished: 2, failed: 1, canceled: 0 }[status] ?? 0;
  for (const li of document.querySelectorAll('#steps li')) {
    const i = order.indexOf(li.dataset.step);
    li.className = '';
    li.removeAttribute('aria-current');
    if (i < at || (status === 'finished' && i === at)) li.className = 'done';
    else if (i === at) {
      li.className = status === 'failed' || status === 'canceled' ? 'failed' : status === 'retrying' ? 'retrying' : 'current';
      li.setAttribute('aria-current', 'step');
    }
  }
  jobBox.dataset.status = status;
}

function reason(job) {
  const e = job.error;
  if (!e) return 'no reason was given';
  const msg = e.message || e.code || 'unknown error';
  return e.code && e.message ? `${msg} (${e.code})` : msg;
}

function showJob(job) {
  setSteps(job.status);
  if (job.url) $('#job-url').textContent = `Page: ${job.url}`;
  switch (job.status) {
    case 'queued':
      setStatus('queued', 'Waiting for a worker…', true);
      break;
    case 'started':
      setStatus('started', `Fetching the page and counting its words${job.attempts > 1 ? ` (attempt ${job.attempts})` : ''}…`, true);
      break;
    case 'retrying': {
      const when = job.next_attempt_at ? ` Next attempt at ${new Date(job.next_attempt_at).toLocaleTimeString()}.` : '';
      setStatus('retrying', `Attempt ${job.attempts} failed: ${reason(job)}. Retrying.${when}`, true);
      break;
    }
    case 'finished':
      setStatus('finished', 'Finished.', false);
      break;
    case 'failed':
      setStatus('failed', `Failed: ${reason(job)}.`, false);
      break;
    case 'canceled':
      setStatus('failed', 'The job was canceled.', false);
      break;
    default:
      setStatus('', `Status: ${job.status}`, true);
  }
}

// follow polls a job until it reaches a terminal state. The first wait is
// the submit answer's Retry-After; after that each wait is the larger of
// the server's Retry-After and our own backoff, which grows by half each
// poll (1 s up to 10 s), and up to 30 s while the server cannot be reached.
async function follow(gen, id, firstWaitMs) {
  let wait = firstWaitMs;
  let backoff = POLL_MIN_MS;
  let errorBackoff = 2000;
  for (;;) {
    if (wait > 0) await sleep(wait);
    if (gen !== generation) return;
    let res;
    try {
      res = await request('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
    } catch {
      if (gen !== generation) return;
      setStatus('retrying', `Cannot reach the server; trying again in ${Math.round(errorBackoff / 1000)} s.`, true);
      wait = errorBackoff;
      errorBackoff = Math.min(errorBackoff * 2, ERROR_MAX_MS);
      continue;
    }
    if (gen !== generation) return;
    if (res.status === 404) {
      setSteps('failed');
      setStatus('failed', 'This job is not known (it may have expired).', false);
      return;
    }
    if (!res.ok || !res.body || typeof res.body !== 'object') {
      wait = Math.max(retryAfterMs(res.headers) ?? 0, errorBackoff);
      setStatus('retrying', `${problemText(res)} Trying again in ${Math.round(wait / 1000)} s.`, true);
      errorBackoff = Math.min(errorBackoff * 2, ERROR_MAX_MS);
      continue;
    }
    errorBackoff = 2000;
    const job = res.body;
    showJob(job);
    if (job.status === 'finished') {
      await showResult(gen, id, job.url);
      return;
    }
    if (job.status === 'failed' || job.status === 'canceled') {
      remember({ id, url: job.url, status: job.status, reason: reason(job), at: job.finished_at || new Date().toISOString() });
      return;
    }
    wait = Math.max(retryAfterMs(res.headers) ?? 0, backoff);
    backoff = Math.min(Math.round(backoff * 1.5), POLL_MAX_MS);
  }
}

// watch follows a job through its event stream (GET /api/v1/jobs/{id}/events):
// each event shows the state at once, and the stream ends after the last
// one. When the browser has no EventSource, the stream cannot be opened
// (a server without it, a 404 or 503) or stays silent, it falls back to
// follow's polling. A dropped stream reconnects by itself with
// Last-Event-ID, so nothing is missed or shown twice.
function watch(gen, id, firstWaitMs) {
  if (typeof EventSource !== 'function') {
    jobBox.dataset.transport = 'poll';
    follow(gen, id, firstWaitMs);
    return;
  }
  jobBox.dataset.transport = 'sse';
  const es = new EventSource(`/api/v1/jobs/${encodeURIComponent(id)}/events`);
  let seen = false;
  let done = false;
  const fallBack = () => {
    if (done) return;
    done = true;
    es.close();
    if (gen !== generation) return;
    jobBox.dataset.transport = 'poll';
    follow(gen, id, 0);
  };
  const silence = setTimeout(() => { if (!seen) fallBack(); }, SSE_FIRST_EVENT_MS);
  es.onerror = () => {
    // CLOSED: the server refused the stream; CONNECTING: the browser is
    // already reconnecting with Last-Event-ID.
    if (es.readyState === EventSource.CLOSED) fallBack();
  };
  const onEvent = (ev) => {
    if (done) return;
    if (gen !== generation) {
      done = true;
      es.close();
      return;
    }
    seen = true;
    clearTimeout(silence);
    let e;
    try {
      e = JSON.parse(ev.data);
    } catch {
      return;
    }
    const job = {
      id,
      url: currentJob && currentJob.id === id ? currentJob.url : undefined,
      status: e.status || ev.type,
      attempts: e.attempt,
      error: e.error || null,
      next_attempt_at: e.next_attempt_at,
      finished_at: e.at,
    };
    showJob(job);
    if (job.status === 'finished' || job.status === 'failed' || job.status === 'canceled') {
      done = true;
      es.close();
      if (job.status === 'finished') showResult(gen, id, job.url);
      else remember({ id, url: job.url, status: job.status, reason: reason(job), at: e.at || new Date().toISOString() });
    }
  };
  for (const s of SSE_STATES) es.addEventListener(s, onEvent);
}

async function showResult(gen, id, url) {
  const n = Number(topN.value) || 10;
  let res;
  try {
    res = await request('GET', `/api/v1/jobs/${encodeURIComponent(id)}/result?top=${n}`);
  } catch {
    setStatus('failed', 'Finished, but the result could not be loaded: the server cannot be reached.', false);
    return;
  }
  if (gen !== generation) return;
  if (!res.ok || !res.body || typeof res.body !== 'object') {
    setStatus('failed', `Finished, but the result could not be loaded. ${problemText(res)}`, false);
    return;
  }
  const r = res.body;
  resultBox.hidden = false;
  resultBox.dataset.job = id;
  $('#total-words').textContent = fmtInt.format(r.total_words ?? 0);
  $('#unique-words').textContent = fmtInt.format(r.unique_words ?? 0);
  $('#total-no-stop').textContent = fmtInt.format(r.total_words_no_stop ?? 0);
  $('#unique-no-stop').textContent = fmtInt.format(r.unique_words_no_stop ?? 0);
  const top = Array.isArray(r.top) ? r.top : [];
  const tbody = document.querySelector('#top-table tbody');
  tbody.replaceChildren();
  top.forEach((item, i) => {
    const tr = document.createElement('tr');
    const rank = document.createElement('td');
    rank.className = 'num';
    rank.textContent = String(i + 1);
    const word = document.createElement('td');
    word.textContent = item.word;
    word.className = 'word';
    const count = document.createElement('td');
    count.className = 'num count';
    count.textContent = fmtInt.format(item.count);
    tr.append(rank, word, count);
    tbody.appendChild(tr);
  });
  const chart = $('#chart');
  if (top.length === 0) {
    chart.replaceChildren();
    $('#chart-caption').textContent = 'No words were found on this page (other than common English words).';
  } else {
    $('#chart-caption').textContent = `The ${top.length} most frequent words, common English words left out.`;
    barChart(chart, top.map((t) => ({ label: t.word, value: t.count })), {
      title: `Top ${top.length} words on ${url || 'the page'}`,
      xLabel: 'Occurrences',
    });
  }
  remember({ id, url: url || r.url, status: 'finished', total: r.total_words, unique: r.unique_words, at: r.created_at || new Date().toISOString() });
}

function loadRecent() {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function remember(entry) {
  const list = loadRecent().filter((e) => e.id !== entry.id);
  list.unshift(entry);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
  } catch {
    // Storage full or disabled: the list is a convenience.
  }
  renderRecent();
}

function renderRecent() {
  const list = loadRecent();
  const ul = $('#recent');
  ul.replaceChildren();
  $('#recent-empty').hidden = list.length > 0;
  for (const e of list) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `#job=${encodeURIComponent(e.id)}`;
    a.textContent = e.url || e.id;
    const info = document.createElement('span');
    info.className = 'muted small';
    info.textContent = e.status === 'finished'
      ? `${fmtInt.format(e.total ?? 0)} words, ${fmtInt.format(e.unique ?? 0)} unique · ${fmtTime(e.at)}`
      : `${e.status}: ${e.reason || ''} · ${fmtTime(e.at)}`;
    li.append(a, info);
    ul.appendChild(li);
  }
}

function track(id, url, firstWaitMs) {
  generation += 1;
  currentJob = { id, url };
  jobBox.hidden = false;
  resultBox.hidden = true;
  $('#job-url').textContent = url ? `Page: ${url}` : `Job ${id}`;
  setSteps('queued');
  setStatus('queued', 'Submitted. Waiting for a worker…', true);
  if (location.hash !== `#job=${id}`) history.replaceState(null, '', `#job=${encodeURIComponent(id)}`);
  watch(generation, id, firstWaitMs);
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setFieldError('');
  let url = urlInput.value.trim();
  if (!url) {
    setFieldError('Enter the address of a page, such as https://example.com/.');
    return;
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = `https://${url}`;
  submitBtn.disabled = true;
  try {
    const res = await request('POST', '/api/v1/jobs', { body: { url } });
    if (res.status !== 202 || !res.body || !res.body.id) {
      setFieldError(problemText(res));
      return;
    }
    track(res.body.id, res.body.url, retryAfterMs(res.headers) ?? POLL_MIN_MS);
  } catch {
    setFieldError('The server cannot be reached. Check your connection and try again.');
  } finally {
    submitBtn.disabled = false;
  }
});

topN.addEventListener('change', () => {
  if (currentJob && !resultBox.hidden) showResult(generation, currentJob.id, currentJob.url);
});

function fromHash() {
  const m = /^#job=([0-9a-fA-F-]{36})$/.exec(decodeURIComponent(location.hash));
  if (!m || (currentJob && currentJob.id === m[1])) return;
  const known = loadRecent().find((e) => e.id === m[1]);
  track(m[1], known ? known.url : '', 0);
}

window.addEventListener('hashchange', fromHash);
renderRecent();
fromHash();
