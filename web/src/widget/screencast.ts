// The visitor's side of a screen broadcast (docs/protocol.md, "Screen
// broadcast"): the consent block, the connection probe, the "being viewed"
// indicator with its Stop button, and starting/stopping the recorder
// (agent.js, loaded from our server only when a broadcast is about to start).
//
// Nothing is recorded before `screencast_start`, which the server sends only
// after the visitor said Yes (here or in another tab, or earlier: remembered
// consent). Stop stops the recorder synchronously, before anything else.

import { T } from './i18n';
import { svgIcon } from '../shared/svg';
import type { AgentApi, AgentSession } from '../agent/api';
import { loadAgent } from '../agent/loader';
import { SecretWatch, rules } from '../agent/privacy';
import { answerProbe } from '../agent/probe';
import { checkSupport } from '../agent/support';
import type { PrivacySettings } from '../protocol/PrivacySettings';
import type { VisitorOut } from '../protocol/VisitorOut';
import type { WidgetConfig } from './config';
import { HiddenPreview, hiddenParts } from './preview';
import { Store } from './storage';
import { ScreenUpload } from './upload';
import type { ChatWidget } from './widget';

/** After a page load or reconnect, how long a live broadcast may take to resume before the indicator goes. */
const RESUME_WAIT_MS = 8_000;
/** A `screencast_start` this soon after the visitor's Stop crossed it on the wire: ignored. */
const STOP_GRACE_MS = 10_000;
/** Yes and No count only after the question has been on screen this long (no click meant for something else). */
const CONSENT_ARM_MS = 600;
/** While recording, what stays hidden is counted again this often (for the receipt). */
const STATS_EVERY_MS = 10_000;

type ConsentRequest = Extract<VisitorOut, { t: 'consent_request' }>;

interface ConsentView {
  requestId: string;
  el: HTMLElement;
  timer: ReturnType<typeof setTimeout>;
}

export class Screencast {
  private readonly secrets = new SecretWatch();
  private readonly store: Store;
  private consent: ConsentView | null = null;
  private session: AgentSession | null = null;
  /** The broadcast's screen socket, where the recorder's frames go. */
  private upload: ScreenUpload | null = null;
  /** Bumped whenever a pending start must not go ahead any more. */
  private startToken = 0;
  private indicator: HTMLElement | null = null;
  private viewer: string | null = null;
  /** The visitor pressed Stop while the socket was down: say so when it is back. */
  private pendingStop = false;
  private stopSentAt = -Infinity;
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The rules the next broadcast records with (from the question, the start, or `welcome`). */
  private privacy: PrivacySettings | null = null;
  private readonly preview: HiddenPreview;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private lastStats = '';

  constructor(
    private readonly widget: ChatWidget,
    private readonly config: WidgetConfig,
  ) {
    this.store = new Store('sessionStorage', `chatcast:${config.siteKey}:`);
    // From the first moment: remembers inputs that stop being passwords ("show password").
    this.secrets.startPassive();
    // The page is shown whole while the preview is open: the panel folds away and comes back after.
    let panelWasOpen = false;
    this.preview = new HiddenPreview(widget.overlayArea, () => hiddenParts(rules(this.privacy ?? widget.privacy), this.secrets), {
      opened: () => {
        panelWasOpen = widget.panelOpen;
        widget.closePanel();
      },
      closed: () => {
        if (panelWasOpen) widget.openPanel();
      },
    });
    widget.onFrame((msg) => this.onFrame(msg));
    widget.onReady(() => this.onReady());
    widget.onConnectionLost(() => this.onConnectionLost());
    // A broadcast that was live on the previous page of this tab continues here:
    // say so at once, until the server confirms (or not).
    const live = this.store.get('viewing');
    if (live !== null) this.showIndicator(live, true);
  }

  // ---- server frames ---------------------------------------------------------

  private onFrame(msg: VisitorOut): void {
    switch (msg.t) {
      case 'consent_request':
        this.onConsentRequest(msg);
        break;
      case 'consent_closed':
        if (this.consent?.requestId === msg.request_id) this.hideConsent();
        break;
      case 'probe':
        answerProbe(
          msg.id,
          msg.upload_bytes,
          (id) => this.widget.sendFrame({ t: 'probe', id }),
          (data) => this.widget.sendBinary(data),
        );
        break;
      case 'screencast_start':
        this.onStart(msg.privacy, msg.consultant_name, msg.screen_token);
        break;
      case 'screencast_stop': {
        this.stopRecording();
        const who = this.viewer;
        this.hideIndicator();
        if (msg.reason === 'too_much_data') {
          this.widget.announce(T.tooMuchData);
        } else if (who && msg.reason !== 'stopped_by_visitor') {
          this.widget.announce(T.noLongerViewing(who));
        }
        break;
      }
      case 'keyframe_request':
        this.session?.keyframe();
        break;
    }
  }

  private onReady(): void {
    if (this.pendingStop && this.widget.sendFrame({ t: 'screencast_stop' })) {
      this.pendingStop = false;
      this.stopSentAt = performance.now();
    }
    // Shown from the previous page or kept over a reconnect: the server resumes
    // a live broadcast right after `welcome`; if it does not, it is over.
    if (this.indicator && !this.session) this.armResumeTimer();
  }

  private onConnectionLost(): void {
    // Frames cannot go out; the server starts us again after the reconnect if
    // the broadcast is still on. The indicator stays meanwhile.
    this.stopRecording();
    if (this.indicator) this.indicator.dataset.state = 'resuming';
  }

  // ---- consent ---------------------------------------------------------------

  private onConsentRequest(req: ConsentRequest): void {
    const missing = checkSupport();
    if (missing.length) {
      this.widget.sendFrame({ t: 'screencast_unavailable', reason: 'unsupported', detail: missing.join(', ') });
      return;
    }
    this.privacy = req.privacy;
    this.showConsent(req);
    this.widget.openPanel();
    this.widget.announce(T.asksAnnounce(nameOf(req.consultant_name)));
    // Fetch the recorder while the visitor reads: starting is then immediate.
    // If it cannot load here (network, the page's security policy), a broadcast is impossible.
    const id = req.request_id;
    this.agent().then(
      (api) => {
        const lacking = api.checkSupport();
        if (lacking.length && this.consent?.requestId === id) this.refuse(lacking.join(', '));
      },
      (err: Error) => {
        if (this.consent?.requestId === id) this.refuse(err.message);
      },
    );
  }

  /** The broadcast is impossible here: tell the server, without asking the visitor. */
  private refuse(detail: string): void {
    this.hideConsent();
    this.widget.sendFrame({ t: 'screencast_unavailable', reason: 'unsupported', detail });
  }

  private showConsent(req: ConsentRequest): void {
    this.hideConsent();
    const name = nameOf(req.consultant_name);
    const block = el('section', 'consent');
    block.setAttribute('data-testid', 'consent-block');
    block.setAttribute('role', 'region');
    block.setAttribute('aria-labelledby', 'chatcast-consent-q');

    const head = el('div', 'consent-head');
    const icon = el('span', 'consent-icon');
    icon.setAttribute('aria-hidden', 'true');
    icon.append(iconEye());
    const q = el('p', 'consent-q');
    q.id = 'chatcast-consent-q';
    const who = el('strong');
    who.textContent = name;
    q.append(who, T.asksToSee);
    head.append(icon, q);

    const more = el('button', 'consent-more');
    more.type = 'button';
    more.setAttribute('data-testid', 'consent-read-more');
    more.setAttribute('aria-expanded', 'false');
    more.setAttribute('aria-controls', 'chatcast-consent-details');
    more.textContent = T.readMore;

    const details = el('div', 'consent-details');
    details.id = 'chatcast-consent-details';
    details.setAttribute('data-testid', 'consent-details');
    details.hidden = true;
    details.append(
      para(T.willSee(name), 'consent-h'),
      list(T.willSeeList),
      para(T.willNotSee(name), 'consent-h'),
      list(T.willNotSeeList),
      para(T.stopAnyTime(hours(req.remember_hours))),
    );
    const show = el('button', 'consent-preview');
    show.type = 'button';
    show.setAttribute('data-testid', 'consent-preview');
    show.textContent = T.showHidden;
    show.addEventListener('click', () => this.preview.open(name, show));
    more.addEventListener('click', () => {
      const open = details.hidden;
      details.hidden = !open;
      more.setAttribute('aria-expanded', String(open));
      more.textContent = open ? T.showLess : T.readMore;
    });

    const error = el('p', 'consent-error');
    error.setAttribute('role', 'alert');
    error.hidden = true;

    const actions = el('div', 'consent-actions');
    const no = el('button', 'consent-no');
    no.type = 'button';
    no.setAttribute('data-testid', 'consent-no');
    no.textContent = T.no;
    const yes = el('button', 'consent-yes');
    yes.type = 'button';
    yes.setAttribute('data-testid', 'consent-yes');
    yes.textContent = T.yes;
    actions.append(no, yes);

    // Only the visitor answers: a click the page's scripts made (untrusted), one
    // that came before the question could be read, or one on a block the page
    // covered or made see-through does not count.
    // Answerable only once it could be read: the buttons are disabled for a
    // moment each time the block comes into view (when it appears, and again
    // when the panel comes back), so a click meant for something else that
    // lands here as it appears does not count.
    let armedAt = Infinity;
    let armTimer: ReturnType<typeof setTimeout> | null = null;
    const arm = () => {
      no.disabled = yes.disabled = true;
      armedAt = Infinity;
      if (armTimer) clearTimeout(armTimer);
      armTimer = setTimeout(() => {
        no.disabled = yes.disabled = false;
        armedAt = performance.now();
      }, CONSENT_ARM_MS);
    };
    let inView = false;
    let occluded = false;
    try {
      const io = new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            if (e.isIntersecting && !inView) arm();
            inView = e.isIntersecting;
            // Where the browser tracks it (Chromium): covered by something, or see-through.
            const visible = (e as IntersectionObserverEntry & { isVisible?: boolean }).isVisible;
            if (typeof visible === 'boolean') occluded = e.isIntersecting && !visible;
          }
        },
        { threshold: [0, 1], trackVisibility: true, delay: 100 } as IntersectionObserverInit,
      );
      io.observe(actions);
      setTimeout(() => io.disconnect(), 10 * 60_000);
    } catch {
      // no visibility tracking here: trusted input and the delay still apply
    }
    const answer = (allow: boolean, ev: Event) => {
      if (this.consent?.requestId !== req.request_id) return;
      if (!ev.isTrusted) {
        console.warn('[chatcast] ignored a consent answer that was not made by the visitor');
        return;
      }
      if (performance.now() < armedAt) return; // the buttons are disabled until then
      if (occluded) {
        error.textContent = T.covered;
        error.hidden = false;
        return;
      }
      if (!this.widget.sendFrame({ t: 'consent_answer', request_id: req.request_id, allow })) {
        error.textContent = T.notConnected;
        error.hidden = false;
        return;
      }
      if (allow) this.stopSentAt = -Infinity;
      this.hideConsent();
    };
    no.addEventListener('click', (ev) => answer(false, ev));
    yes.addEventListener('click', (ev) => answer(true, ev));
    arm();

    block.append(head, more, show, details, error, actions);
    this.widget.noticeArea.append(block);

    // The server says `consent_closed` when the request lapses; this is the fallback.
    // Generous: the two clocks may disagree, and the server's word is the one that counts.
    const left = req.expires_at - Date.now();
    const wait = Math.min(10 * 60_000, Math.max(30_000, (Number.isFinite(left) ? left : 60_000) + 5_000));
    const timer = setTimeout(() => {
      if (this.consent?.requestId === req.request_id) this.hideConsent();
    }, wait);
    this.consent = { requestId: req.request_id, el: block, timer };
  }

  private hideConsent(): void {
    if (!this.consent) return;
    if (!this.indicator) this.preview.close();
    clearTimeout(this.consent.timer);
    this.consent.el.remove();
    this.consent = null;
  }

  // ---- recording -------------------------------------------------------------

  private agent(): Promise<AgentApi> {
    return loadAgent(this.config.agentUrl, this.config.nonce);
  }

  private onStart(privacy: PrivacySettings, consultantName: string, screenToken: string): void {
    this.privacy = privacy;
    this.hideConsent();
    if (performance.now() - this.stopSentAt < STOP_GRACE_MS) return; // crossed our Stop on the wire
    this.clearResumeTimer();
    this.stopRecording();
    this.showIndicator(nameOf(consultantName), false);
    const token = ++this.startToken;
    const fail = (detail: string) => {
      if (token !== this.startToken) return;
      this.stopRecording();
      this.widget.sendFrame({ t: 'screencast_unavailable', reason: 'unsupported', detail });
      this.hideIndicator();
    };
    const missing = checkSupport();
    if (missing.length) return fail(missing.join(', '));
    // Recording starts once the recorder is loaded and the screen socket is
    // open (again after a reconnect: from a fresh keyframe).
    let api: AgentApi | null = null;
    let open = false;
    const begin = () => {
      if (token !== this.startToken || !api || !open || !this.widget.isReady) return;
      this.session?.stop();
      this.session = api.start({
        privacy,
        send: (frame) => upload.send(frame),
        widgetHost: this.widget.hostElement,
        secrets: this.secrets,
        onFatal: (detail) => {
          this.session = null;
          fail(detail);
        },
      });
      this.startStats();
    };
    const url = new URL(this.config.screenUrl);
    url.search = '?token=' + encodeURIComponent(screenToken);
    const upload = new ScreenUpload(url.href, {
      onOpen: () => {
        open = true;
        begin();
      },
      onDown: () => {
        open = false;
        if (token !== this.startToken) return;
        this.session?.stop();
        this.session = null;
      },
      onFail: fail,
    });
    this.upload = upload;
    this.agent().then(
      (loaded) => {
        if (token !== this.startToken) return;
        const lacking = loaded.checkSupport();
        if (lacking.length) return fail(lacking.join(', '));
        api = loaded;
        begin();
      },
      (err: Error) => fail(err.message),
    );
  }

  /** Counts what stays hidden on this page for the receipt, now and now and then while recording. */
  private startStats(): void {
    this.lastStats = '';
    const count = () => {
      if (!this.session) return;
      try {
        const p = hiddenParts(rules(this.privacy), this.secrets);
        const key = `${p.fields}/${p.areas}`;
        if (key !== this.lastStats && this.widget.sendFrame({ t: 'screencast_stats', hidden_fields: p.fields, hidden_areas: p.areas })) {
          this.lastStats = key;
        }
      } catch {
        // the receipt says less; nothing else depends on it
      }
    };
    if (this.statsTimer) clearInterval(this.statsTimer);
    // At once (a broadcast stopped a moment later still gets a true receipt), then now and then.
    count();
    this.statsTimer = setInterval(count, STATS_EVERY_MS);
  }

  /** Stops the recorder now: nothing more leaves the page. */
  private stopRecording(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.startToken++;
    const s = this.session;
    this.session = null;
    s?.stop();
    this.upload?.close();
    this.upload = null;
  }

  /** The visitor's Stop. */
  private visitorStop(): void {
    // Synchronously, before anything else: no frame may leave after this click.
    this.stopRecording();
    this.clearResumeTimer();
    if (this.widget.sendFrame({ t: 'screencast_stop' })) this.stopSentAt = performance.now();
    else this.pendingStop = true;
    this.hideIndicator();
    this.widget.announce(T.sharingStopped);
  }

  // ---- "being viewed" indicator ------------------------------------------------

  private showIndicator(name: string, resuming: boolean): void {
    this.store.set('viewing', name);
    if (this.indicator && this.viewer === name) {
      this.indicator.dataset.state = resuming ? 'resuming' : 'live';
      return;
    }
    this.indicator?.remove();
    this.viewer = name;
    const pill = el('div', 'viewing');
    pill.setAttribute('data-testid', 'viewing-indicator');
    pill.setAttribute('role', 'status');
    pill.dataset.state = resuming ? 'resuming' : 'live';
    const dot = el('span', 'viewing-dot');
    dot.setAttribute('aria-hidden', 'true');
    const text = el('span', 'viewing-text');
    text.textContent = T.viewing(name);
    pill.title = T.viewingTitle(name);
    const stop = el('button', 'viewing-stop');
    stop.type = 'button';
    stop.setAttribute('data-testid', 'viewing-stop');
    stop.setAttribute('aria-label', T.stopLabel(name));
    stop.textContent = T.stop;
    stop.addEventListener('click', (ev) => {
      ev.preventDefault();
      this.visitorStop();
    });
    const what = el('button', 'viewing-what');
    what.type = 'button';
    what.setAttribute('data-testid', 'consent-preview');
    what.textContent = T.whatHidden;
    what.title = T.whatHiddenTitle(name);
    what.addEventListener('click', () => (this.preview.isOpen ? this.preview.close() : this.preview.open(name, what)));
    pill.append(dot, text, what, stop);
    this.widget.cornerArea.append(pill);
    this.indicator = pill;
  }

  private hideIndicator(): void {
    this.clearResumeTimer();
    this.preview.close();
    this.store.remove('viewing');
    this.indicator?.remove();
    this.indicator = null;
    this.viewer = null;
  }

  private armResumeTimer(): void {
    this.clearResumeTimer();
    if (this.indicator) this.indicator.dataset.state = 'resuming';
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      if (!this.session) this.hideIndicator();
    }, RESUME_WAIT_MS);
  }

  private clearResumeTimer(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
  }
}

function nameOf(name: string | null | undefined): string {
  const n = (name || '').trim();
  return n || T.aConsultant;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}

function para(text: string, cls?: string): HTMLParagraphElement {
  const p = el('p', cls);
  p.textContent = text;
  return p;
}

function list(items: string[]): HTMLUListElement {
  const ul = el('ul');
  for (const item of items) {
    const li = el('li');
    li.textContent = item;
    ul.append(li);
  }
  return ul;
}

function iconEye(): SVGSVGElement {
  return svgIcon([['path', 'M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z'], ['circle', 12, 12, 3]]);
}

function hours(h: number): string {
  return T.hours(Number.isFinite(h) && h > 0 ? h : 24);
}
