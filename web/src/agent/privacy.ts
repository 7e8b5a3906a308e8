// What never leaves the page (SPEC §3, docs/privacy.md): the rules, as rrweb
// options plus a watcher that finds secret fields before rrweb can see them.
// The widget's "what stays hidden" preview draws with the same functions, so
// it cannot disagree with what is sent.
//
// Blocked (the replica shows an empty box of the same size; nothing inside
// is serialized, input events on it are dropped, and no pointer position
// over it leaves the page — filter.ts):
//   - secret fields (isSecretField): passwords, payment cards, one-time codes,
//     PINs, by type, autofill hint, name/id or label — and any field that ever
//     was one or that takes one's place (same id in the same document, same
//     name in the same form or parent), also inside open shadow roots and
//     same-origin frames;
//   - elements the site marks private: [data-chatcast-private], .rr-block,
//     [data-private], and the admin's block selectors;
//   - the chat widget itself.
// Masked (layout kept; filter.ts applies it to text, attributes and input events):
//   - everything under [data-chatcast-mask], .rr-mask and the admin's mask selectors;
//   - input values: hidden inputs always (rrweb #1609), every input when the
//     admin turned on "mask all inputs"; always a constant-length mask.

import type { PrivacySettings } from '../protocol/PrivacySettings';

/** Marks a secret field for rrweb's block selector (set while recording, never removed). */
export const SECRET_ATTR = 'data-chatcast-secret';
/** Class of the widget's host element: blocked here, hidden by the console. */
export const WIDGET_HOST_CLASS = 'chatcast-widget-host';
/** What a masked input value becomes, whatever its length. */
export const INPUT_MASK = '••••••••';

/**
 * Secret fields the CSS alone can name: the safety net under the watcher's
 * marks (a field rrweb meets before the watcher, e.g. in a frame that loaded
 * a moment ago, is still blocked when it matches one of these).
 */
export const SECRET_INPUT_SELECTORS = [
  'input[type="password" i]',
  `[${SECRET_ATTR}]`,
  // rrweb's own mark for an input it saw change from type=password.
  'input[data-rr-is-password]',
  'input[autocomplete*="password" i]',
  'input[name*="passw" i]',
  'input[id*="passw" i]',
  // Payment cards: cc-number, cc-csc, cc-exp… (contains: "billing cc-number" is valid too).
  '[autocomplete*="cc-" i]',
  'input[name*="cardnumber" i]',
  'input[name*="card-number" i]',
  'input[name*="card_number" i]',
  'input[name*="cvv" i]',
  'input[name*="cvc" i]',
  'input[autocomplete="one-time-code" i]',
];

/** Elements sites mark private (SPEC §8) and the widget. `.rr-block` is rrweb's blockClass. */
export const PRIVATE_SELECTORS = ['[data-chatcast-private]', '[data-private]', '.rr-block', `.${WIDGET_HOST_CLASS}`];

/** Elements whose content is masked. `.rr-mask` is rrweb's maskTextClass. */
export const MASK_SELECTORS = ['[data-chatcast-mask]', '.rr-mask'];

const FIELD_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);
const FIELDS = 'input, textarea, select';

// ---- what makes a field secret ------------------------------------------------

/** Name/id words that make a field secret on their own (whole words: "pin", never "shipping"). */
const SECRET_WORDS = new Set([
  'password', 'passwd', 'pwd', 'pw', 'pass', 'passcode', 'passphrase', 'pin', 'secret', 'otp', 'totp', 'mfa', '2fa',
  'cvv', 'cvc', 'csc', 'cvn', 'ccv', 'ssn', 'cardnumber', 'ccnumber', 'ccnum', 'iban',
]);
/** Long words that make a field secret wherever they appear in a name ("newpassword", "userPasscode"). */
const SECRET_PARTS = /passw|passcode|passphrase|cardnumber|creditcard|securitycode/i;
/** Label, placeholder or aria-label words of a secret field. */
const SECRET_LABEL =
  /\b(pass ?words?|passcodes?|passphrases?|pins?|pin codes?|cvv2?|cvc2?|csc|security codes?|one[- ]time (pass)?codes?|otp|verification codes?|card numbers?|secret)\b/i;
/** Autofill hints of secrets. */
const SECRET_AUTOCOMPLETE = /(^|\s)(current-password|new-password|one-time-code|cc-[a-z-]+)(\s|$)/i;

/** "confirmNewPassword" / "user_pwd" → ["confirm", "new", "password"] / ["user", "pwd"]. */
function words(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function secretName(s: string | null): boolean {
  if (!s) return false;
  return SECRET_PARTS.test(s) || words(s).some((w) => SECRET_WORDS.has(w));
}

/** The text a person reads as the field's name: its labels, aria-label(ledby), placeholder. */
function labelText(el: Element): string {
  const parts: string[] = [];
  const f = el as HTMLInputElement;
  try {
    if (f.labels) for (const l of Array.from(f.labels)) parts.push(l.textContent || '');
  } catch {
    // no labels here
  }
  for (const a of ['aria-label', 'placeholder', 'title']) {
    const v = el.getAttribute(a);
    if (v) parts.push(v);
  }
  const by = el.getAttribute('aria-labelledby');
  if (by) {
    const root = el.getRootNode() as Document | ShadowRoot;
    for (const id of by.split(/\s+/)) {
      const l = root.getElementById?.(id);
      if (l) parts.push(l.textContent || '');
    }
  }
  return parts.join(' ').slice(0, 500);
}

/** Whether a field is secret by what it says about itself (type, autofill hint, name, id, label). */
export function isSecretField(el: Element): boolean {
  if (!FIELD_TAGS.has(el.tagName)) return false;
  try {
    if (el.hasAttribute(SECRET_ATTR) || el.hasAttribute('data-rr-is-password')) return true;
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (type === 'password') return true;
    if (el.tagName === 'INPUT' && ['checkbox', 'radio', 'submit', 'button', 'reset', 'image', 'hidden', 'file', 'range', 'color'].includes(type)) {
      return false; // no typed secret in these (hidden inputs are masked, not blocked)
    }
    if (SECRET_AUTOCOMPLETE.test(el.getAttribute('autocomplete') || '')) return true;
    if (secretName(el.getAttribute('name')) || secretName(el.id)) return true;
    return SECRET_LABEL.test(labelText(el));
  } catch {
    return true; // when in doubt, it is secret
  }
}

// ---- rrweb options ----------------------------------------------------------------

/** Keeps the selectors a browser accepts (an admin typo must not disable everything else). */
export function validSelectors(list: readonly string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const raw of list ?? []) {
    if (typeof raw !== 'string') continue;
    const sel = raw.trim();
    if (!sel) continue;
    try {
      document.querySelector(sel);
      out.push(sel);
    } catch {
      console.warn(`[chatcast] ignoring an invalid privacy selector: ${sel}`);
    }
  }
  return out;
}

/** The selectors of a site's rules: what is blocked, what is masked. */
export interface Rules {
  blockSelector: string;
  maskSelector: string;
  maskAllInputs: boolean;
  keepUrlParams: string[];
}

export function rules(privacy: PrivacySettings | null | undefined): Rules {
  return {
    blockSelector: [...SECRET_INPUT_SELECTORS, ...PRIVATE_SELECTORS, ...validSelectors(privacy?.block_selectors)].join(', '),
    maskSelector: [...MASK_SELECTORS, ...validSelectors(privacy?.mask_selectors)].join(', '),
    maskAllInputs: !!privacy?.mask_all_inputs,
    keepUrlParams: (privacy?.keep_url_params ?? []).filter((k) => typeof k === 'string'),
  };
}

export interface RrwebPrivacy {
  blockClass: string;
  blockSelector: string;
  maskTextClass: string;
  maskTextSelector: string;
  maskAllInputs: false;
  maskInputOptions: Record<string, boolean>;
  maskInputFn: (text: string, element: HTMLElement) => string;
  maskTextFn: (text: string, element: HTMLElement | null) => string;
}

/** Every visible character becomes a bullet; spaces and line breaks stay, so the layout does. */
export function maskText(text: string): string {
  return text.replace(/\S/gu, '•');
}

/** rrweb's privacy options for a site's rules. */
export function rrwebPrivacy(r: Rules): RrwebPrivacy {
  const maskAll = r.maskAllInputs;
  // rrweb calls maskInputFn only for the input types listed here, so every
  // type that can hold typed text is listed and the function decides. Passing
  // this object replaces rrweb's default ({password: true}); password stays in.
  const maskInputOptions: Record<string, boolean> = {
    password: true, hidden: true, text: true, textarea: true, email: true, tel: true, number: true, search: true,
    url: true, date: true, 'datetime-local': true, month: true, week: true, time: true, color: true, range: true,
    file: true,
    // For <select>, rrweb also drops the `selected` option when this is on:
    // only then is the choice itself private (in masked zones filter.ts drops it).
    select: maskAll,
  };
  const maskInputFn = (text: string, element: HTMLElement): string => {
    if (!text) return text;
    try {
      if (maskAll || isSecretField(element)) return INPUT_MASK;
      const type = (element.getAttribute('type') || '').toLowerCase();
      if (element.tagName === 'INPUT' && type === 'hidden') return INPUT_MASK;
      if (closestDeep(element, r.maskSelector)) return INPUT_MASK;
    } catch {
      return INPUT_MASK; // when in doubt, mask
    }
    return text;
  };
  return {
    blockClass: 'rr-block',
    blockSelector: r.blockSelector,
    maskTextClass: 'rr-mask',
    maskTextSelector: r.maskSelector,
    maskAllInputs: false,
    maskInputOptions,
    maskInputFn,
    maskTextFn: (text: string) => maskText(text),
  };
}

// ---- across shadow roots and frames ---------------------------------------------------

/**
 * The nearest ancestor-or-self matching `selector`, crossing open shadow roots
 * (to their host) and same-origin frames (to their <iframe>): a private block
 * stays private for what its shadow root or its frame holds.
 */
export function closestDeep(node: Node | null, selector: string): Element | null {
  let n: Node | null = node;
  for (let hops = 0; n && hops < 64; hops++) {
    if (n.nodeType === 11) {
      n = (n as ShadowRoot).host ?? null; // a shadow root: on to its host
      continue;
    }
    if (n.nodeType === 9) {
      n = frameOf(n as Document); // a frame's document: on to its <iframe>
      continue;
    }
    const el = n.nodeType === 1 ? (n as Element) : n.parentElement;
    if (!el) {
      n = n.parentNode;
      continue;
    }
    const hit = el.closest(selector);
    if (hit) return hit;
    n = el.getRootNode();
  }
  return null;
}

function frameOf(doc: Document): Element | null {
  try {
    return doc.defaultView?.frameElement ?? null;
  } catch {
    return null; // another origin's frame
  }
}

/** Elements matching `selector` in every root given. */
export function queryRoots(roots: Iterable<Document | ShadowRoot>, selector: string): Element[] {
  const out: Element[] = [];
  for (const r of roots) {
    try {
      r.querySelectorAll(selector).forEach((e) => out.push(e));
    } catch {
      // a root gone away
    }
  }
  return out;
}

// ---- the watcher ------------------------------------------------------------------------

/**
 * Finds secret fields before rrweb serializes them and marks them with
 * SECRET_ATTR, so that rrweb's block selector leaves them out.
 *
 * Passive mode runs from the widget's start on every page. It changes
 * nothing in the page and sends nothing: it remembers which fields are
 * secret (also when a "show password" button turns one into a text field, or
 * a framework renders a new field in its place) in memory. Recording mode (a
 * live broadcast) marks them all, open shadow roots and same-origin frames
 * included, and catches fields added later before rrweb serializes them: its
 * observer was created before rrweb's, so its callback runs first.
 */
export class SecretWatch {
  private observer: MutationObserver | null = null;
  private readonly roots = new Set<Document | ShadowRoot>();
  private readonly observed = new WeakSet<Node>();
  /** Fields known to be secret (kept across type changes and broadcasts). */
  private secret = new WeakSet<Element>();
  /** Names and ids of secret fields, by the scope a replacement shares with them (document, form, parent). */
  private readonly keys = new WeakMap<Node, Set<string>>();
  private recording = false;
  private readonly off: (() => void)[] = [];

  startPassive(): void {
    if (this.observer) return;
    try {
      this.observer = new MutationObserver((records) => this.onRecords(records));
    } catch {
      this.observer = null;
      return;
    }
    this.adoptRoot(document, false);
    // A secret field that is focused or typed into, whatever the observer saw.
    const opts = { capture: true, passive: true } as const;
    const onEvent = (ev: Event) => {
      const path = typeof ev.composedPath === 'function' ? ev.composedPath() : [];
      const target = (path[0] ?? ev.target) as Element | null;
      if (target && target.nodeType === 1) this.consider(target);
    };
    // focusin and change only: a check per keystroke would cost the page for nothing new.
    for (const type of ['focusin', 'change'] as const) {
      window.addEventListener(type, onEvent, opts);
      this.off.push(() => window.removeEventListener(type, onEvent, opts));
    }
  }

  /** Marks every secret field, everywhere, and keeps marking until `stopRecording`. */
  startRecording(): void {
    this.startPassive();
    this.recording = true;
    this.scanDeep();
  }

  /** Back to passive: marks stay (a toggled password stays secret). */
  stopRecording(): void {
    this.recording = false;
  }

  /** Every root watched: the document, open shadow roots, same-origin frames' documents. */
  get knownRoots(): (Document | ShadowRoot)[] {
    return [...this.roots].filter((r) => (r as ShadowRoot).host ? (r as ShadowRoot).host.isConnected : !!(r as Document).defaultView);
  }

  /** Whether a field is known to be secret. */
  isSecret(el: Element): boolean {
    return this.secret.has(el);
  }

  /** The secret fields as of now (the preview draws them; recording marks them). */
  secretFields(): Element[] {
    this.scanDeep();
    return queryRoots(this.knownRoots, FIELDS).filter((el) => this.secret.has(el));
  }

  // ---- discovery

  private scanDeep(): void {
    const walk = (root: Document | ShadowRoot) => {
      this.adoptRoot(root, true);
      const it = (root.ownerDocument ?? (root as Document)).createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
      for (let n = it.nextNode(); n; n = it.nextNode()) {
        const el = n as Element;
        if (el.shadowRoot) walk(el.shadowRoot);
        if (el.tagName === 'IFRAME' || el.tagName === 'FRAME') {
          const doc = this.frameDoc(el);
          if (doc) walk(doc);
        }
      }
    };
    try {
      walk(document);
    } catch {
      // best effort: the block selectors still cover type=password and the rest
    }
  }

  /** Watches a root and looks at its fields (and, unless `shallow`, frames). */
  private adoptRoot(root: Document | ShadowRoot, shallow: boolean): void {
    if (!this.observer) return;
    if (!this.observed.has(root)) {
      this.observed.add(root);
      this.roots.add(root);
      try {
        this.observer.observe(root, OBSERVE);
      } catch {
        return;
      }
    }
    try {
      root.querySelectorAll(FIELDS).forEach((f) => this.consider(f));
      if (!shallow) root.querySelectorAll('iframe, frame').forEach((f) => this.adoptFrame(f));
    } catch {
      // a root gone away
    }
  }

  private frameDoc(frame: Element): Document | null {
    try {
      return (frame as HTMLIFrameElement).contentDocument;
    } catch {
      return null; // another origin: never recorded (recordCrossOriginIframes is off)
    }
  }

  /** A same-origin frame: its document now, and the next one after each load. */
  private adoptFrame(frame: Element): void {
    if (!this.observed.has(frame)) {
      this.observed.add(frame);
      frame.addEventListener('load', () => {
        const doc = this.frameDoc(frame);
        if (doc) this.adoptRoot(doc, false);
      });
    }
    const doc = this.frameDoc(frame);
    if (doc) this.adoptRoot(doc, false);
  }

  private onRecords(records: MutationRecord[]): void {
    for (const r of records) {
      if (r.type === 'attributes') {
        const el = r.target as Element;
        if (!FIELD_TAGS.has(el.tagName)) continue;
        // A password field turned into a text field ("show password"): it stays secret.
        if (r.attributeName === 'type' && (r.oldValue || '').toLowerCase() === 'password') this.remember(el);
        this.consider(el);
      } else if (r.type === 'childList') {
        r.addedNodes.forEach((n) => {
          if (n.nodeType !== 1) return;
          const el = n as Element;
          if (FIELD_TAGS.has(el.tagName)) this.consider(el);
          else if (el.firstElementChild) el.querySelectorAll(FIELDS).forEach((f) => this.consider(f));
          if (el.tagName === 'IFRAME' || el.tagName === 'FRAME') this.adoptFrame(el);
          if (this.recording) this.adoptNested(el);
        });
      }
    }
  }

  /** Shadow roots and frames inside an added subtree (while recording). */
  private adoptNested(el: Element): void {
    if (el.shadowRoot) this.adoptRoot(el.shadowRoot, false);
    if (!el.firstElementChild) return;
    el.querySelectorAll('*').forEach((d) => {
      if (d.shadowRoot) this.adoptRoot(d.shadowRoot, false);
      if (d.tagName === 'IFRAME' || d.tagName === 'FRAME') this.adoptFrame(d);
    });
  }

  // ---- the rule

  /** Decides about one field: secret by itself, or in a secret field's place. */
  private consider(el: Element): void {
    if (!FIELD_TAGS.has(el.tagName)) return;
    if (this.secret.has(el) || isSecretField(el) || this.takesSecretPlace(el)) this.remember(el);
  }

  private remember(el: Element): void {
    if (!this.secret.has(el)) {
      this.secret.add(el);
      for (const [scope, key] of this.scopesOf(el)) {
        let set = this.keys.get(scope);
        if (!set) this.keys.set(scope, (set = new Set()));
        set.add(key);
      }
    }
    if (this.recording && !el.hasAttribute(SECRET_ATTR)) el.setAttribute(SECRET_ATTR, '');
  }

  private takesSecretPlace(el: Element): boolean {
    for (const [scope, key] of this.scopesOf(el)) if (this.keys.get(scope)?.has(key)) return true;
    return false;
  }

  /** Where a replacement would be recognized: its id in its document, its name in its form and in its parent. */
  private scopesOf(el: Element): [Node, string][] {
    const out: [Node, string][] = [];
    const id = el.id;
    const name = el.getAttribute('name');
    if (id) out.push([el.getRootNode(), `#${id}`]);
    if (name) {
      const form = (el as HTMLInputElement).form;
      if (form) out.push([form, `@${name}`]);
      if (el.parentNode) out.push([el.parentNode, `@${name}`]);
    }
    return out;
  }
}

const OBSERVE: MutationObserverInit = {
  subtree: true,
  childList: true,
  attributes: true,
  attributeOldValue: true,
  attributeFilter: ['type', 'autocomplete', 'name', 'id', 'aria-label', 'placeholder'],
};
