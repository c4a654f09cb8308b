// api.js — talking to wordcount's HTTP API from the pages.

// request sends a request and reads a JSON (or problem+json) answer.
// Resolves to {status, ok, headers, body}; rejects only when no answer came.
export async function request(method, url, { body, headers } = {}) {
  const h = { Accept: 'application/json', ...(headers || {}) };
  const init = { method, headers: h, cache: 'no-store' };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  return { status: res.status, ok: res.ok, headers: res.headers, body: data };
}

// retryAfterMs reads Retry-After (seconds or an HTTP date) in milliseconds, or null.
export function retryAfterMs(headers) {
  const v = headers && headers.get('Retry-After');
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

// problemText turns an error answer into a sentence for people.
export function problemText(res) {
  const b = res.body;
  if (b && typeof b === 'object') {
    if (b.detail && b.title) return `${b.title}: ${b.detail}`;
    if (b.detail || b.title) return b.detail || b.title;
  }
  return `The server answered ${res.status}.`;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const fmtInt = new Intl.NumberFormat();

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60000);
  const s = Math.round((ms % 60000) / 1000);
  return `${m} min ${s} s`;
}
