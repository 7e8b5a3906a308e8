// Beside the dialog: who the visitor is — their browser, language, local
// time, where they came from, the pages of this visit (URLs masked in their
// browser already), first seen, visits, and their conversation so far.

import type { VisitorDetails } from '../protocol/VisitorDetails';
import { api } from './api';
import { h, replaceChildren, setText } from './dom';
import { ago, clock, fullDate, shortUrl, urlHost, visitorName } from './format';

/** The fewest milliseconds between two fetches of the same visitor. */
const REFETCH_MS = 2000;

export class VisitorPanel {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly localTime: HTMLElement;
  private details: VisitorDetails | null = null;
  private fetchedFor = '';
  private lastFetch = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly visitorId: string) {
    this.localTime = h('dd', { 'data-testid': 'visitor-local-time' });
    this.body = h('div', { class: 'vp-body' }, h('p', { class: 'muted' }, 'Loading…'));
    this.el = h('aside', { class: 'visitor-panel', 'data-testid': 'visitor-panel', 'aria-label': 'About the visitor' },
      h('h3', { class: 'vp-name', 'data-testid': 'visitor-name' }, visitorName(visitorId)),
      this.body,
    );
  }

  /** Fetches again when the visitor's page changed (at most every 2 s). */
  refresh(pageUrl: string): void {
    if (pageUrl === this.fetchedFor && this.details) return;
    const wait = this.lastFetch + REFETCH_MS - Date.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.refresh(pageUrl);
      }, wait);
      return;
    }
    this.fetchedFor = pageUrl;
    this.lastFetch = Date.now();
    api.visitor(this.visitorId).then((d) => {
      this.details = d;
      this.draw();
    }, () => {
      if (!this.details) replaceChildren(this.body, h('p', { class: 'muted' }, 'Could not load the visitor’s details.'));
    });
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Their local time moves on. */
  tick(): void {
    const tz = this.details?.timezone;
    if (!tz) return;
    try {
      setText(this.localTime, `${new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone: tz }).format(new Date())} (${tz})`);
    } catch {
      setText(this.localTime, tz);
    }
  }

  private draw(): void {
    const d = this.details;
    if (!d) return;
    const row = (label: string, value: Node | string, testid?: string): Node[] =>
      [h('dt', null, label), typeof value === 'string' ? h('dd', testid ? { 'data-testid': testid } : null, value) : value];
    const browser = [d.browser, d.os].filter(Boolean).join(' on ') || 'Unknown';
    const referrer = d.referrer
      ? h('dd', { 'data-testid': 'visitor-referrer', title: d.referrer }, `${urlHost(d.referrer)}${shortUrl(d.referrer) === '/' ? '' : shortUrl(d.referrer)}`)
      : h('dd', { 'data-testid': 'visitor-referrer' }, 'Direct (no referrer)');
    const pages = h('ol', { class: 'vp-pages', 'data-testid': 'visitor-pages' },
      ...d.pages.map((p) => h('li', { title: p.url },
        h('span', { class: 'vp-page-title' }, p.title || shortUrl(p.url)),
        h('span', { class: 'muted' }, ` ${readable(shortUrl(p.url))} · ${clock(p.at)}`))));
    const who = d.identity;
    const identity = who
      ? h('dd', { 'data-testid': 'visitor-identity', 'data-verified': String(who.verified) },
        [who.name, who.email].filter(Boolean).join(' · ') || who.id,
        h('span', { class: `vp-tag ${who.verified ? 'ok' : 'warn'}`, title: who.verified
          ? 'The site signed this id: it vouches for who this is'
          : 'Not signed by the site: anyone could have claimed this' }, who.verified ? 'verified' : 'unverified'),
        h('div', { class: 'muted' }, `id ${who.id}`))
      : null;
    const c = d.contact;
    const contact = c.email || c.name
      ? h('dd', { 'data-testid': 'visitor-contact' },
        [c.name, c.email].filter(Boolean).join(' · '),
        h('span', { class: 'vp-tag warn', title: 'Typed by the visitor in the chat; answers written while they are away go to this address' }, 'given by the visitor'))
      : null;
    replaceChildren(this.body,
      h('dl', { class: 'vp-facts' },
        identity ? row('Identified as', identity) : null,
        contact ? row('Contact', contact) : null,
        row('Site', d.site_name),
        row('Local time', d.timezone ? this.localTime : 'Unknown'),
        row('Browser', browser, 'visitor-browser'),
        row('Language', d.language || 'Unknown', 'visitor-language'),
        row('Came from', referrer),
        row('First seen', `${fullDate(d.first_seen)} (${ago(d.first_seen)})`),
        row('Visits', String(d.visits), 'visitor-visits'),
        row('Conversation', d.conversation_since
          ? `${d.messages} message${d.messages === 1 ? '' : 's'} since ${fullDate(d.conversation_since)}` : 'No messages yet'),
      ),
      h('h4', null, `Pages this visit (${d.pages.length})`),
      d.pages.length ? pages : h('p', { class: 'muted' }, 'None yet.'),
    );
    this.tick();
  }
}

/** A URL part with its escapes read (masked values show as the bullets they are). */
function readable(s: string): string {
  try {
    return decodeURI(s);
  } catch {
    return s;
  }
}
