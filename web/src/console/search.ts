// Search across every transcript (GET /api/search): results name the visitor,
// the site and the time, show the words found, and open the dialog scrolled
// to that message. The query lives in the URL (#/search/<words>).

import type { SearchHit } from '../protocol/SearchHit';
import { api, ApiError, sentence } from './api';
import { h, replaceChildren } from './dom';
import { fullDate, hueOf, visitorInitials, visitorName } from './format';

/** How long after the last key the search runs. */
const DEBOUNCE_MS = 250;
/** Characters of a long message shown around its first match. */
const EXCERPT = 220;

/** The words a query is made of, as the server splits them. */
function words(q: string): string[] {
  return q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean).slice(0, 8);
}

export function renderSearch(root: HTMLElement, initial: string): void {
  const input = h('input', {
    type: 'search', class: 'search-box', 'data-testid': 'search-input', placeholder: 'Words from any message, e.g. order 1234',
    'aria-label': 'Search all conversations', autocomplete: 'off', spellcheck: 'false', value: initial,
  });
  const status = h('p', { class: 'muted search-status', role: 'status' });
  const list = h('ol', { class: 'search-results', 'data-testid': 'search-results' });
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const run = async () => {
    clearTimeout(timer);
    const q = input.value.trim();
    history.replaceState(null, '', q ? `#/search/${encodeURIComponent(q)}` : '#/search');
    const mine = ++seq;
    if (!words(q).length) {
      list.replaceChildren();
      status.textContent = q ? 'Type letters or digits to search for.' : 'Finds messages of visitors and the team, newest first.';
      return;
    }
    status.textContent = 'Searching…';
    try {
      const hits = await api.search(q);
      if (mine !== seq) return;
      status.textContent = hits.length === 0 ? `No message has ${quoted(q)}.`
        : `${hits.length}${hits.length >= 50 ? '+' : ''} message${hits.length === 1 ? '' : 's'}, newest first.`;
      replaceChildren(list, hits.map((hit) => result(hit, words(q))));
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = e instanceof ApiError ? sentence(e.message) : 'The search failed; try again.';
      list.replaceChildren();
    }
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  const form = h('form', { class: 'search-form', role: 'search' }, input);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  root.replaceChildren(h('div', { class: 'page search-page', 'data-testid': 'search-page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Search')),
    form, status, list,
  ));
  input.focus();
  void run();
}

function quoted(q: string): string {
  return `“${q.length > 40 ? `${q.slice(0, 40)}…` : q}”`;
}

function result(hit: SearchHit, ws: string[]): HTMLElement {
  const m = hit.message;
  // The head names the visitor; a reply says who of the team wrote it.
  const who = m.author === 'visitor' ? null : h('span', { class: 'search-who' }, `${m.author_name || 'Team'}: `);
  return h('li', { class: 'search-result', 'data-testid': 'search-result', 'data-visitor-id': m.visitor_id, 'data-message-id': m.id },
    h('a', { href: `#/chat/${encodeURIComponent(m.visitor_id)}/${encodeURIComponent(m.id)}` },
      h('span', { class: 'avatar', 'aria-hidden': 'true', style: `--hue:${hueOf(m.visitor_id)}` }, visitorInitials(m.visitor_id)),
      h('span', { class: 'search-main' },
        h('span', { class: 'search-head' },
          h('strong', null, visitorName(m.visitor_id)),
          h('span', { class: 'muted' }, ` · ${hit.site_name} · `),
          h('time', { class: 'muted', datetime: new Date(m.at).toISOString() }, fullDate(m.at)),
        ),
        h('span', { class: 'search-body' }, who, ...highlight(excerpt(m.body, ws), ws)),
      ),
    ),
  );
}

/** Where the words start in `text` (at word starts, as the search matched them). */
function wordRegex(ws: string[]): RegExp | null {
  if (!ws.length) return null;
  const alt = ws.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${alt})`, 'giu');
}

/** A long message cut around its first match. */
function excerpt(body: string, ws: string[]): string {
  const text = body.replace(/\s+/g, ' ');
  if (text.length <= EXCERPT) return text;
  const at = wordRegex(ws)?.exec(text)?.index ?? 0;
  const start = Math.max(0, Math.min(at - 60, text.length - EXCERPT));
  return `${start > 0 ? '…' : ''}${text.slice(start, start + EXCERPT)}${start + EXCERPT < text.length ? '…' : ''}`;
}

/** Text nodes with the found words in <mark> (never HTML from the message). */
function highlight(text: string, ws: string[]): Node[] {
  const re = wordRegex(ws);
  if (!re) return [document.createTextNode(text)];
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const i = m.index ?? 0;
    if (i > last) out.push(document.createTextNode(text.slice(last, i)));
    out.push(h('mark', null, m[0]));
    last = i + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}
