// search.js — the dashboard's job search: a form of filters (URL or URL
// prefix, host, status, error code, batch) over GET /api/v1/jobs, a table
// of the matches newest first paged by cursor, and, for admins, retry,
// cancel or delete of everything the filters match
// (POST /api/v1/admin/jobs/bulk, called page after page until its
// next_cursor is null).
import { fmtInt, fmtTime, problemText, request } from './api.js';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'wordcount.adminToken'; // dashboard.js's token field
const PAGE = 20;
const BULK_CALLS_MAX = 2000; // 500 jobs a call: a million jobs

let cursors = [null]; // the cursor of each page shown so far; the last is this page's
let next = null;
let filters = new URLSearchParams();

function adminHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY) || '';
  return t ? { Authorization: `Bearer ${t}` } : {};
}

function message(text, isError) {
  const p = $('#search-msg');
  p.hidden = !text;
  p.textContent = text || '';
  p.className = `notice${isError ? ' error' : ''}`;
}

function readForm() {
  const q = new URLSearchParams();
  for (const name of ['url', 'host', 'status', 'error', 'batch']) {
    const v = $(`#search-${name}`).value.trim();
    if (v) q.set(name, v);
  }
  return q;
}

function td(tr, text, cls) {
  const c = document.createElement('td');
  c.textContent = text;
  if (cls) c.className = cls;
  tr.appendChild(c);
  return c;
}

function render(jobs) {
  const tbody = $('#search-results tbody');
  tbody.replaceChildren();
  for (const j of jobs) {
    const tr = document.createElement('tr');
    tr.dataset.job = j.id;
    const page = td(tr, '');
    const a = document.createElement('a');
    a.href = `/#job=${encodeURIComponent(j.id)}`;
    a.textContent = j.url || j.id;
    page.appendChild(a);
    td(tr, j.status, `status ${j.status}`);
    td(tr, j.error?.code || '');
    td(tr, fmtTime(j.created_at));
    td(tr, fmtTime(j.finished_at));
    tbody.appendChild(tr);
  }
  $('#search-empty').hidden = jobs.length > 0;
  const n = cursors.length;
  $('#search-page').textContent = `Page ${n}${jobs.length ? `, ${jobs.length} jobs` : ''}`;
  $('#search-newer').disabled = n <= 1;
  $('#search-older').disabled = !next;
}

async function load() {
  const q = new URLSearchParams(filters);
  q.set('limit', String(PAGE));
  const cur = cursors[cursors.length - 1];
  if (cur) q.set('cursor', cur);
  let res;
  try {
    res = await request('GET', `/api/v1/jobs?${q}`, { headers: adminHeaders() });
  } catch {
    message('The search did not work: the server cannot be reached.', true);
    return;
  }
  if (res.status === 401 || res.status === 403) {
    message('Searching needs a token here: enter the admin token (or the metrics token) under Failed jobs.', true);
    return;
  }
  if (!res.ok) {
    message(`The search did not work. ${problemText(res)}`, true);
    return;
  }
  message('');
  next = res.body.next_cursor;
  render(res.body.jobs || []);
  if (!(res.body.jobs || []).length && next) {
    message('No match among the jobs looked at so far: "Older" looks further back.', false);
  }
}

$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  filters = readForm();
  cursors = [null];
  load();
});
$('#search-older').addEventListener('click', () => {
  if (!next) return;
  cursors.push(next);
  load();
});
$('#search-newer').addEventListener('click', () => {
  if (cursors.length > 1) cursors.pop();
  load();
});

const NAMES = { retry: 'Retry', cancel: 'Cancel', delete: 'Delete' };

async function bulk(action) {
  const q = readForm();
  const what = q.toString() ? `every job matching ${decodeURIComponent(q.toString())}` : 'every job';
  if (!window.confirm(`${NAMES[action]} ${what}?`)) return;
  let cursor = null;
  let done = 0;
  let skipped = 0;
  for (let calls = 0; calls < BULK_CALLS_MAX; calls++) {
    const p = new URLSearchParams(q);
    p.set('action', action);
    p.set('limit', '500');
    if (cursor) p.set('cursor', cursor);
    let res;
    try {
      res = await request('POST', `/api/v1/admin/jobs/bulk?${p}`, { headers: adminHeaders() });
    } catch {
      message(`${NAMES[action]} stopped after ${fmtInt.format(done)} jobs: the server cannot be reached.`, true);
      return;
    }
    if (res.status === 401 || res.status === 403) {
      message('The server refused this: enter the admin token under Failed jobs.', true);
      return;
    }
    if (!res.ok) {
      message(`${NAMES[action]} stopped after ${fmtInt.format(done)} jobs. ${problemText(res)}`, true);
      return;
    }
    done += res.body.done;
    skipped += res.body.skipped;
    message(`${NAMES[action]}: ${fmtInt.format(done)} done, ${fmtInt.format(skipped)} skipped so far…`, false);
    cursor = res.body.next_cursor;
    if (!cursor) break;
  }
  message(`${NAMES[action]}: ${fmtInt.format(done)} done, ${fmtInt.format(skipped)} skipped (not in a state it applies to).`, false);
  cursors = [null];
  filters = q;
  load();
}

for (const action of Object.keys(NAMES)) {
  $(`#bulk-${action}`).addEventListener('click', () => bulk(action));
}
