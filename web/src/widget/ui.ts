// The widget's DOM: a host element with an open shadow root holding the
// launcher button and the chat panel. It only draws; widget.ts decides.

import type { Author } from '../protocol/Author';
import type { MessageKind } from '../protocol/MessageKind';
import { CSS, HOST_STYLE } from './styles';
import { place, type Side } from './dodge';
import { iconAttach, iconChat, iconClose, iconMinimize, iconMove, iconSend } from './icons';
import type { Attachment } from '../protocol/Attachment';
import { ACCEPT, attachmentElement } from '../shared/attachment';
import { T } from './i18n';

/** The server's limit for a message body, in characters. */
export const MAX_BODY_CHARS = 4000;

export type ConnView = 'connecting' | 'open' | 'reconnecting' | 'refused';

/** One line of the transcript as the panel shows it. */
export interface ViewItem {
  /** `m:<id>` for a stored message, `c:<client_id>` for one not stored yet. */
  key: string;
  /** For a stored message of ours: `c:<client_id>`, so the pending bubble becomes the stored one in place. */
  altKey: string | null;
  author: Author;
  authorName: string | null;
  body: string;
  at: number;
  /** Own messages only. */
  state: 'pending' | 'sent' | 'failed' | null;
  error?: string;
  /** A system line of a particular kind (a broadcast's receipt). */
  kind?: MessageKind | null;
  /** A file sent with it. */
  attachment?: Attachment | null;
}

/** What a site chose for its widget, as the panel draws it. */
export interface Look {
  /** Accent colour (`#rrggbb`), or null for Chatcast's own. */
  accent: string | null;
  /** The launcher's corner. */
  side: Side;
  /** The site's greeting ('' for the language's own). */
  greeting: string;
  /** The site's words while nobody is online ('' for the language's own). */
  offlineText: string;
}

/** What the panel asks for about the visitor. */
export interface ContactView {
  /** Nobody of the site is online. */
  away: boolean;
  /** The address the visitor gave, if any. */
  email: string | null;
  /** Answers can go by email (the server sends them): ask for an address while away. */
  byEmail: boolean;
  /** Show the pre-chat form (the site asks, and the visitor has not answered or written yet). */
  prechat: boolean;
}

export interface UiHandlers {
  onSend(text: string): void;
  /** The visitor picked a file to send. */
  onAttach(file: File): void;
  /** The visitor filled in the pre-chat form (already checked). */
  onPrechat(name: string, email: string): void;
  /** The visitor pressed a key in the message box (never told what). */
  onTyping(): void;
  onOpenChange(open: boolean): void;
  /** The visitor closed the preview of a new message. */
  onTeaserDismiss(): void;
}

export class WidgetUI {
  readonly host: HTMLDivElement;
  readonly shadow: ShadowRoot;
  /** A place above the transcript for notices (e.g. consent requests). */
  readonly notices: HTMLDivElement;
  /** A place beside the launcher, shown whether the panel is open or not (e.g. "being viewed"). */
  readonly corner: HTMLDivElement;
  /** A layer over the whole page (the "what stays hidden" preview). */
  readonly overlay: HTMLDivElement;
  private readonly root: HTMLDivElement;
  private readonly panel: HTMLElement;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLSpanElement;
  private readonly launcherLabel: HTMLSpanElement;
  private readonly status: HTMLParagraphElement;
  private readonly statusText: HTMLSpanElement;
  private readonly log: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly empty: HTMLDivElement;
  private readonly input: HTMLTextAreaElement;
  private readonly typing: HTMLDivElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly attachButton: HTMLButtonElement;
  private readonly error: HTMLParagraphElement;
  private readonly counter: HTMLSpanElement;
  private readonly unavailable: HTMLParagraphElement;
  private readonly teaser: HTMLDivElement;
  private readonly teaserName: HTMLSpanElement;
  private readonly teaserText: HTMLSpanElement;
  private readonly announcer: HTMLDivElement;
  private readonly els = new Map<string, HTMLElement>();
  private open = false;
  /** The side the visitor moved the panel to (kept for the tab), else chosen to keep fields free. */
  private chosenSide: Side | null = readSide();
  private placeTimer: ReturnType<typeof setInterval> | null = null;
  private placeQueued = false;
  private readonly onViewport = () => this.queuePlace();
  private unread = 0;
  private hasItems = false;
  private loaded = false;
  private conn: ConnView = 'connecting';
  private look: Look = { accent: null, side: 'right', greeting: '', offlineText: '' };
  private contact: ContactView = { away: false, email: null, byEmail: false, prechat: false };
  private readonly title: HTMLHeadingElement;
  private readonly minimize: HTMLButtonElement;
  private readonly move: HTMLButtonElement;
  private readonly hi: HTMLElement;
  private readonly sub: HTMLSpanElement;
  private readonly inputLabel: HTMLLabelElement;
  private readonly brand: HTMLDivElement;
  private readonly teaserClose: HTMLButtonElement;
  private readonly composer: HTMLFormElement;
  /** While nobody is online: the site's words and the email field (or where answers go). */
  private readonly away: HTMLDivElement;
  private readonly awayText: HTMLParagraphElement;
  private readonly emailLabel: HTMLLabelElement;
  private readonly email: HTMLInputElement;
  private readonly awayNote: HTMLParagraphElement;
  /** The pre-chat form (name and email before the first message). */
  private readonly prechat: HTMLFormElement;
  private readonly prechatTitle: HTMLParagraphElement;
  private readonly prechatName: HTMLInputElement;
  private readonly prechatEmail: HTMLInputElement;
  private readonly prechatNameLabel: HTMLSpanElement;
  private readonly prechatEmailLabel: HTMLSpanElement;
  private readonly prechatSubmit: HTMLButtonElement;
  private readonly prechatError: HTMLParagraphElement;

  /** `serverUrl`: the chat server's base URL, where files are fetched from. */
  constructor(private readonly serverUrl: string, private readonly handlers: UiHandlers) {
    this.host = document.createElement('div');
    this.host.setAttribute('data-testid', 'chatcast-widget');
    this.host.setAttribute('data-chatcast-widget', '');
    // Never mirrored in a screen broadcast (the agent blocks this class, the console hides it).
    this.host.className = 'chatcast-widget-host';
    // Set through the CSSOM (not a style attribute), which a strict CSP allows.
    for (const [prop, value] of HOST_STYLE) this.host.style.setProperty(prop, value, 'important');
    this.shadow = this.host.attachShadow({ mode: 'open' });

    adoptStyles(this.shadow, CSS);

    this.root = el('div', 'root');
    this.root.dataset.open = 'false';
    this.shadow.append(this.root);

    // Panel -----------------------------------------------------------------
    this.panel = el('section', 'panel');
    this.panel.id = 'chatcast-panel';
    this.panel.setAttribute('role', 'dialog');
    this.panel.setAttribute('aria-modal', 'false');
    this.panel.setAttribute('aria-labelledby', 'chatcast-title');
    this.panel.setAttribute('data-testid', 'widget-panel');
    this.panel.hidden = true;

    const header = el('header', 'header');
    const avatar = el('div', 'avatar');
    avatar.append(iconChat());
    const titles = el('div', 'titles');
    const title = (this.title = el('h2', 'title'));
    title.id = 'chatcast-title';
    this.status = el('p', 'status');
    this.status.setAttribute('data-testid', 'widget-status');
    this.status.setAttribute('aria-live', 'polite');
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    this.statusText = el('span', 'status-text');
    this.status.append(dot, this.statusText);
    titles.append(title, this.status);
    const minimize = (this.minimize = el('button', 'icon-button'));
    minimize.type = 'button';
    minimize.append(iconMinimize());
    minimize.addEventListener('click', () => this.requestOpen(false, true));
    const move = (this.move = el('button', 'icon-button move'));
    move.type = 'button';
    move.setAttribute('data-testid', 'widget-move');
    move.append(iconMove());
    move.addEventListener('click', () => {
      this.chosenSide = this.root.dataset.side === 'left' ? 'right' : 'left';
      try {
        sessionStorage.setItem(SIDE_KEY, this.chosenSide);
      } catch {
        // No storage: the choice holds for this page.
      }
      this.placePanel();
    });
    header.append(avatar, titles, move, minimize);

    this.notices = el('div', 'notices');

    this.log = el('div', 'log');
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-live', 'polite');
    this.log.tabIndex = 0;
    this.empty = el('div', 'empty');
    this.empty.hidden = true;
    this.hi = el('strong');
    this.sub = el('span');
    this.empty.append(this.hi, this.sub);
    this.list = el('div', 'messages');
    this.typing = el('div', 'typing');
    this.typing.setAttribute('data-testid', 'widget-typing-indicator');
    this.typing.hidden = true;
    this.log.append(this.empty, this.list, this.typing);

    this.unavailable = el('p', 'unavailable');
    this.unavailable.setAttribute('role', 'status');
    this.unavailable.setAttribute('data-testid', 'widget-unavailable');
    this.unavailable.hidden = true;

    // Nobody online: the site's words, and an address for the answer.
    this.away = el('div', 'away');
    this.away.setAttribute('data-testid', 'widget-offline');
    this.away.hidden = true;
    this.awayText = el('p', 'away-text');
    this.emailLabel = el('label', 'away-label');
    this.emailLabel.htmlFor = 'chatcast-email';
    this.email = el('input', 'away-email');
    this.email.id = 'chatcast-email';
    this.email.type = 'email';
    this.email.autocomplete = 'email';
    this.email.maxLength = 254;
    this.email.setAttribute('data-testid', 'widget-offline-email');
    this.email.addEventListener('input', () => this.showError(null));
    this.awayNote = el('p', 'away-note');
    this.awayNote.setAttribute('data-testid', 'widget-offline-note');
    this.away.append(this.awayText, this.emailLabel, this.email, this.awayNote);

    // The pre-chat form, where the site asks for it.
    this.prechat = el('form', 'prechat');
    this.prechat.noValidate = true;
    this.prechat.setAttribute('data-testid', 'prechat-form');
    this.prechat.hidden = true;
    this.prechatTitle = el('p', 'prechat-title');
    const nameField = el('label', 'field');
    this.prechatNameLabel = el('span');
    this.prechatName = el('input');
    this.prechatName.autocomplete = 'name';
    this.prechatName.maxLength = 100;
    this.prechatName.setAttribute('data-testid', 'prechat-name');
    nameField.append(this.prechatNameLabel, this.prechatName);
    const emailField = el('label', 'field');
    this.prechatEmailLabel = el('span');
    this.prechatEmail = el('input');
    this.prechatEmail.type = 'email';
    this.prechatEmail.autocomplete = 'email';
    this.prechatEmail.maxLength = 254;
    this.prechatEmail.setAttribute('data-testid', 'prechat-email');
    emailField.append(this.prechatEmailLabel, this.prechatEmail);
    this.prechatError = el('p', 'error');
    this.prechatError.setAttribute('role', 'alert');
    this.prechatError.setAttribute('data-testid', 'prechat-error');
    this.prechatError.hidden = true;
    this.prechatSubmit = el('button', 'prechat-submit');
    this.prechatSubmit.type = 'submit';
    this.prechatSubmit.setAttribute('data-testid', 'prechat-submit');
    this.prechat.append(this.prechatTitle, nameField, emailField, this.prechatError, this.prechatSubmit);
    this.prechat.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitPrechat();
    });

    const composer = (this.composer = el('form', 'composer'));
    composer.noValidate = true;
    const row = el('div', 'row');
    const label = (this.inputLabel = el('label', 'sr-only'));
    label.htmlFor = 'chatcast-input';
    this.input = el('textarea', 'input');
    this.input.id = 'chatcast-input';
    this.input.setAttribute('data-testid', 'widget-input');
    this.input.rows = 1;
    this.input.maxLength = MAX_BODY_CHARS;
    this.input.setAttribute('aria-describedby', 'chatcast-error chatcast-hint');
    this.input.autocomplete = 'off';
    this.sendButton = el('button', 'send');
    this.sendButton.type = 'submit';
    this.sendButton.setAttribute('data-testid', 'widget-send');
    this.sendButton.append(iconSend());
    this.attachButton = el('button', 'attach');
    this.attachButton.type = 'button';
    this.attachButton.setAttribute('data-testid', 'widget-attach');
    this.attachButton.append(iconAttach());
    const picker = el('input');
    picker.type = 'file';
    picker.accept = ACCEPT;
    picker.hidden = true;
    picker.setAttribute('data-testid', 'widget-file');
    this.attachButton.addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => {
      const file = picker.files?.[0];
      picker.value = '';
      if (file) this.handlers.onAttach(file);
    });
    this.sendButton.dataset.empty = 'true';
    row.append(label, this.attachButton, picker, this.input, this.sendButton);
    const hint = el('div', 'hint');
    this.error = el('p', 'error');
    this.error.id = 'chatcast-error';
    this.error.setAttribute('role', 'alert');
    this.error.setAttribute('data-testid', 'widget-error');
    this.error.hidden = true;
    this.counter = el('span', 'counter');
    this.counter.id = 'chatcast-hint';
    this.counter.hidden = true;
    hint.append(this.error, this.counter);
    composer.append(row, hint);

    const brand = (this.brand = el('div', 'brand'));

    this.panel.append(header, this.notices, this.log, this.unavailable, this.away, this.prechat, composer, brand);

    // Launcher --------------------------------------------------------------
    this.launcher = el('button', 'launcher');
    this.launcher.type = 'button';
    this.launcher.setAttribute('data-testid', 'widget-launcher');
    this.launcher.setAttribute('aria-controls', 'chatcast-panel');
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.append(iconChat('icon-chat'), iconClose('icon-close'));
    this.launcherLabel = el('span', 'sr-only');
    this.badge = el('span', 'badge');
    this.badge.setAttribute('data-testid', 'widget-unread');
    this.badge.setAttribute('aria-hidden', 'true');
    this.badge.hidden = true;
    this.launcher.append(this.launcherLabel, this.badge);
    this.launcher.addEventListener('click', () => this.requestOpen(!this.open, true));

    // A preview of a new message while the panel is closed.
    this.teaser = el('div', 'teaser');
    this.teaser.setAttribute('data-testid', 'widget-teaser');
    this.teaser.hidden = true;
    const teaserOpen = el('button', 'teaser-body');
    teaserOpen.type = 'button';
    this.teaserName = el('span', 'teaser-name');
    this.teaserText = el('span', 'teaser-text');
    teaserOpen.append(this.teaserName, this.teaserText);
    teaserOpen.addEventListener('click', () => this.requestOpen(true, true));
    const teaserClose = (this.teaserClose = el('button', 'teaser-close'));
    teaserClose.type = 'button';
    teaserClose.append(iconClose());
    teaserClose.addEventListener('click', () => {
      this.teaser.hidden = true;
      this.handlers.onTeaserDismiss();
    });
    this.teaser.append(teaserOpen, teaserClose);

    this.announcer = el('div', 'sr-only');
    this.announcer.setAttribute('role', 'status');
    this.announcer.setAttribute('aria-live', 'polite');

    this.corner = el('div', 'corner');

    this.overlay = el('div', 'overlay');
    this.root.append(this.overlay, this.panel, this.teaser, this.corner, this.launcher, this.announcer);
    this.relabel();

    // Behaviour -------------------------------------------------------------
    composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.onInput();
      if (this.input.value.trim()) this.handlers.onTyping();
    });
    this.root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.open) {
        ev.preventDefault();
        this.requestOpen(false, true);
      }
    });
    // Keys typed in the widget are not the page's keyboard shortcuts.
    for (const type of ['keydown', 'keyup', 'keypress'] as const) {
      this.root.addEventListener(type, (ev) => ev.stopPropagation());
    }
  }

  /** Sets every text drawn once (after a change of language too). */
  relabel(): void {
    this.root.lang = T.lang;
    this.title.textContent = T.title;
    this.minimize.setAttribute('aria-label', T.minimize);
    this.minimize.title = T.minimizeTitle;
    this.move.setAttribute('aria-label', T.move);
    this.move.title = T.moveTitle;
    this.log.setAttribute('aria-label', T.log);
    this.unavailable.textContent = T.unavailable;
    this.inputLabel.textContent = T.inputLabel;
    this.input.placeholder = T.placeholder;
    this.sendButton.setAttribute('aria-label', T.send);
    this.sendButton.title = T.sendTitle;
    this.attachButton.setAttribute('aria-label', T.attach);
    this.attachButton.title = T.attach;
    this.brand.textContent = T.brand;
    this.teaserClose.setAttribute('aria-label', T.dismissPreview);
    this.emailLabel.textContent = T.emailLabel;
    this.email.placeholder = T.emailPlaceholder;
    this.prechatTitle.textContent = T.prechatTitle;
    this.prechatNameLabel.textContent = T.nameLabel;
    this.prechatEmailLabel.textContent = T.prechatEmailLabel;
    this.prechatSubmit.textContent = T.prechatStart;
    this.els.forEach((node) => delete node.dataset.sig); // redrawn in the new words on the next render
    this.drawLook();
    this.setConnection(this.conn); // draws the contact part too
    this.updateLauncherLabel();
  }

  /** What the site chose: colour, corner, greeting and offline words. */
  setLook(look: Look): void {
    this.look = look;
    this.drawLook();
    this.drawContact();
    if (this.open) this.placePanel();
    else this.placeHost(this.chosenSide ?? look.side);
  }

  private drawLook(): void {
    const accent = this.look.accent;
    for (const [prop, value] of [
      ['--cc-accent', accent],
      ['--cc-accent-strong', accent && `color-mix(in srgb, ${accent} 82%, black)`],
    ] as const) {
      if (value) this.root.style.setProperty(prop, value);
      else this.root.style.removeProperty(prop);
    }
    this.hi.hidden = !!this.look.greeting;
    this.hi.textContent = T.greetingTitle;
    this.sub.textContent = this.look.greeting || T.greeting;
  }

  /** Whether anyone is online, where answers go, and whether to ask who the visitor is first. */
  setContact(view: ContactView): void {
    this.contact = view;
    this.drawContact();
  }

  private drawContact(): void {
    const { away, email, byEmail, prechat } = this.contact;
    this.prechat.hidden = !prechat;
    this.composer.hidden = prechat;
    this.away.hidden = !away || prechat;
    this.root.dataset.away = String(away);
    this.awayText.textContent = this.look.offlineText || (byEmail ? T.offline : T.offlineHere);
    this.emailLabel.hidden = this.email.hidden = !!email || !byEmail;
    this.awayNote.hidden = !email || !byEmail;
    this.awayNote.textContent = email ? T.willAnswerAt(email) : '';
    this.statusText.textContent = away && this.conn === 'open' ? T.status.away : T.status[this.conn];
  }

  /** The address typed in the "nobody online" field ('' if none, or it is not shown). */
  typedEmail(): string {
    return this.away.hidden || this.email.hidden ? '' : this.email.value.trim();
  }

  private submitPrechat(): void {
    const name = this.prechatName.value.trim();
    const email = this.prechatEmail.value.trim();
    const fail = (text: string, field: HTMLInputElement) => {
      this.prechatError.textContent = text;
      this.prechatError.hidden = false;
      field.focus();
    };
    if (!name) return fail(T.needName, this.prechatName);
    if (!looksLikeEmail(email)) return fail(T.badEmail, this.prechatEmail);
    this.prechatError.hidden = true;
    this.handlers.onPrechat(name, email);
  }

  /** Appends the host to the page and keeps it there if a script empties <body>. */
  mount(): void {
    document.body.append(this.host);
    try {
      new MutationObserver(() => {
        if (!this.host.isConnected && document.body) document.body.append(this.host);
      }).observe(document.body, { childList: true });
    } catch {
      // no observer: fine
    }
  }

  isOpen(): boolean {
    return this.open;
  }

  /** Opens or closes the panel. `focus`: move keyboard focus (user action). */
  setOpen(open: boolean, focus = false): void {
    this.open = open;
    this.root.dataset.open = String(open);
    this.panel.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    this.updateLauncherLabel();
    if (open) {
      // Placed before it shows, then kept clear of the page's fields while open.
      this.placePanel();
      if (!this.placeTimer) {
        this.placeTimer = setInterval(this.onViewport, 1500);
        addEventListener('resize', this.onViewport, { passive: true });
        addEventListener('scroll', this.onViewport, { passive: true, capture: true });
      }
      this.scrollToEnd();
      if (focus) {
        if (!this.input.disabled) this.input.focus({ preventScroll: true });
        else this.log.focus({ preventScroll: true });
      }
    } else {
      if (this.placeTimer) {
        clearInterval(this.placeTimer);
        this.placeTimer = null;
        removeEventListener('resize', this.onViewport);
        removeEventListener('scroll', this.onViewport, { capture: true });
      }
      if (focus) this.launcher.focus({ preventScroll: true });
    }
  }

  private queuePlace(): void {
    if (this.placeQueued) return;
    this.placeQueued = true;
    requestAnimationFrame(() => {
      this.placeQueued = false;
      this.placePanel();
    });
  }

  /** Puts the panel where it covers none of the page's fields (see dodge.ts), or where the visitor moved it. */
  private placePanel(): void {
    if (!this.open) return;
    const width = Math.min(376, innerWidth - 40);
    const height = Math.max(300, Math.min(580, innerHeight - 120));
    const p = this.chosenSide ? { side: this.chosenSide, maxHeight: null } : place(width, height, this.look.side);
    this.placeHost(p.side);
    const h = p.maxHeight === null ? '' : `${Math.floor(p.maxHeight)}px`;
    if (this.panel.style.height !== h) this.panel.style.height = h;
  }

  private placeHost(side: Side): void {
    this.root.dataset.side = side;
    this.host.style.setProperty('right', side === 'right' ? '20px' : 'auto', 'important');
    this.host.style.setProperty('left', side === 'left' ? '20px' : 'auto', 'important');
  }

  setConnection(state: ConnView): void {
    this.conn = state;
    this.status.dataset.state = state;
    this.drawContact();
    const refused = state === 'refused';
    this.unavailable.hidden = !refused;
    this.input.disabled = refused;
    this.sendButton.disabled = refused;
    this.attachButton.disabled = refused;
    this.root.dataset.conn = state;
    this.updateEmpty();
  }

  /** The history arrived (or never will): only then is an empty transcript really empty. */
  setLoaded(loaded: boolean): void {
    this.loaded = loaded;
    this.updateEmpty();
  }

  private updateEmpty(): void {
    this.empty.hidden = this.hasItems || !this.loaded || this.root.dataset.conn === 'refused';
  }

  setUnread(n: number): void {
    this.unread = n;
    this.badge.hidden = n <= 0;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.updateLauncherLabel();
  }

  /** Shows a preview of a message above the closed launcher (null hides it). */
  setTeaser(preview: { name: string; body: string } | null): void {
    this.teaser.hidden = !preview;
    if (!preview) return;
    this.teaserName.textContent = preview.name;
    const body = preview.body.length > 140 ? preview.body.slice(0, 137).trimEnd() + '…' : preview.body;
    this.teaserText.textContent = body;
  }

  /** Tells screen readers something the closed panel cannot show. */
  announce(text: string): void {
    this.announcer.textContent = '';
    setTimeout(() => (this.announcer.textContent = text), 50);
  }

  /** Shows (or with null, hides) an error next to the input. */
  showError(text: string | null): void {
    this.error.textContent = text ?? '';
    this.error.hidden = !text;
  }

  /** Draws the transcript: reuses, moves and removes bubbles by key. */
  render(items: ViewItem[], opts: { scroll?: boolean } = {}): void {
    const atEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 48;
    const used = new Set<HTMLElement>();
    let cursor = this.list.firstElementChild as HTMLElement | null;
    let prev: ViewItem | null = null;
    for (const item of items) {
      let node = this.els.get(item.key);
      if (!node && item.altKey) {
        node = this.els.get(item.altKey);
        if (node) this.els.delete(item.altKey);
      }
      if (!node) node = el('div', 'msg');
      this.els.set(item.key, node);
      this.fill(node, item);
      const cont =
        !!prev &&
        prev.author === item.author &&
        item.author !== 'system' &&
        prev.authorName === item.authorName &&
        Math.abs(item.at - prev.at) < 5 * 60_000;
      node.classList.toggle('cont', cont);
      used.add(node);
      if (node === cursor) cursor = cursor.nextElementSibling as HTMLElement | null;
      else this.list.insertBefore(node, cursor);
      prev = item;
    }
    for (const [key, node] of this.els) {
      if (!used.has(node)) {
        node.remove();
        this.els.delete(key);
      }
    }
    // A bubble followed by one of the same group with the same time and state
    // leaves the time line to it.
    for (let node = this.list.firstElementChild as HTMLElement | null; node; ) {
      const next = node.nextElementSibling as HTMLElement | null;
      node.classList.toggle(
        'cont-next',
        !!next && next.classList.contains('cont') && next.dataset.meta === node.dataset.meta,
      );
      node = next;
    }
    this.hasItems = items.length > 0;
    this.updateEmpty();
    if (atEnd || opts.scroll) this.scrollToEnd();
  }

  private fill(node: HTMLElement, item: ViewItem): void {
    const sig = JSON.stringify([item.author, item.authorName, item.body, item.state, item.error, item.at, item.kind, item.attachment?.id]);
    if (node.dataset.sig === sig) return;
    node.dataset.sig = sig;
    // A broadcast's receipt is a line of its own kind (SPEC §8 `broadcast-receipt`).
    node.setAttribute('data-testid', item.kind === 'receipt' ? 'broadcast-receipt' : 'widget-message');
    if (item.kind) node.dataset.kind = item.kind;
    else delete node.dataset.kind;
    node.setAttribute('data-author', item.author);
    if (item.state) node.setAttribute('data-state', item.state);
    else node.removeAttribute('data-state');
    // Name, time and delivery state are drawn by CSS from attributes, so the
    // element's text is exactly the message.
    if (item.author === 'consultant') node.dataset.name = item.authorName || T.support;
    else delete node.dataset.name;
    const date = new Date(item.at);
    const time = formatTime(date);
    const status =
      item.state === 'pending' ? T.sending : item.state === 'sent' ? T.sent : item.state === 'failed' ? T.notSent : '';
    node.dataset.meta = [time, status].filter(Boolean).join(' · ');
    node.title = item.state === 'failed' && item.error ? T.notSentBecause(item.error) : date.toLocaleString(T.lang);
    const bubble = el('div', 'bubble');
    if (item.attachment) bubble.append(attachmentElement(item.attachment, this.serverUrl, 'widget-attachment', T.lang));
    appendLinkified(bubble, item.body);
    node.replaceChildren(bubble);
  }

  private submit(): void {
    if (this.input.disabled) return;
    this.handlers.onSend(this.input.value);
  }

  /** Shows "NAME is typing…" under the transcript, or hides it (null). */
  setTyping(name: string | null): void {
    const show = name !== null;
    if (show) this.typing.textContent = T.typing(name || T.support);
    if (this.typing.hidden === !show) return;
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.typing.hidden = !show;
    if (show && stick) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Empties the input after a message was taken. */
  clearInput(): void {
    this.input.value = '';
    this.onInput();
    this.input.focus({ preventScroll: true });
  }

  private onInput(): void {
    const value = this.input.value;
    this.sendButton.dataset.empty = String(!value.trim());
    // Grow with the text, up to the CSS max-height.
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + 'px';
    const n = countChars(value.trim());
    this.counter.hidden = n < MAX_BODY_CHARS - 200;
    this.counter.textContent = `${n.toLocaleString()} / ${MAX_BODY_CHARS.toLocaleString()}`;
    this.counter.dataset.over = String(n > MAX_BODY_CHARS);
    if (!this.error.hidden) this.showError(null);
  }

  private requestOpen(open: boolean, focus: boolean): void {
    this.setOpen(open, focus);
    this.handlers.onOpenChange(open);
  }

  private updateLauncherLabel(): void {
    let label = this.open ? T.closeChat : T.openChat;
    if (!this.open && this.unread > 0) label += T.unread(this.unread);
    this.launcherLabel.textContent = label;
    this.launcher.title = this.open ? T.closeChat : T.title;
  }

  private scrollToEnd(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

/** Characters as the server counts them (Unicode scalar values). */
export function countChars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Styles for the shadow root: a constructed stylesheet where supported (a page's
 * Content-Security-Policy cannot block it), else a <style> element.
 */
function adoptStyles(root: ShadowRoot, css: string): void {
  try {
    if ('adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      return;
    }
  } catch {
    // fall back below
  }
  const style = document.createElement('style');
  style.textContent = css;
  root.append(style);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}

function formatTime(d: Date): string {
  try {
    const sameDay = new Date().toDateString() === d.toDateString();
    return d.toLocaleString(T.lang, sameDay
      ? { hour: '2-digit', minute: '2-digit' }
      : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  } catch {
    return '';
  }
}

/** An address worth sending: something@something.tld, no spaces (the server checks it too). */
export function looksLikeEmail(s: string): boolean {
  return s.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** Text with http(s) links made clickable; everything else stays plain text. */
function appendLinkified(parent: HTMLElement, text: string): void {
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    // Trailing punctuation is usually the sentence's, not the link's.
    const trail = /[.,;:!?)\]}]+$/.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    const start = m.index ?? 0;
    if (start > last) parent.append(text.slice(last, start));
    const a = document.createElement('a');
    a.href = url;
    a.textContent = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer nofollow';
    parent.append(a);
    last = start + url.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

const SIDE_KEY = 'chatcast.side';

function readSide(): Side | null {
  try {
    const s = sessionStorage.getItem(SIDE_KEY);
    return s === 'left' || s === 'right' ? s : null;
  } catch {
    return null;
  }
}
