// What never leaves the page (SPEC §3), as rrweb options plus a watcher that
// marks secret inputs before rrweb can see their values.
//
// Blocked (the replica shows an empty box of the same size; nothing inside
// is serialized and input events on it are ignored):
//   - password inputs, and any input that ever was one ("show password"
//     toggles turn it into type=text: it keeps the SECRET_ATTR mark);
//   - payment-card fields (autocomplete cc-*), one-time codes;
//   - elements the site marks private: [data-chatcast-private], .rr-block,
//     [data-private], and the admin's block selectors;
//   - the chat widget itself.
// Masked (layout kept):
//   - text under [data-chatcast-mask], .rr-mask and the admin's mask selectors
//     (every non-space character becomes •);
//   - input values: hidden inputs always (rrweb #1609), every input when the
//     admin turned on "mask all inputs", inputs inside masked text; always a
//     constant-length mask, so not even the length leaks.

import type { PrivacySettings } from '../protocol/PrivacySettings';

/** Marks an input that is or was secret (set by this code, never removed). */
export const SECRET_ATTR = 'data-chatcast-secret';
/** Class of the widget's host element: blocked here, hidden by the console. */
export const WIDGET_HOST_CLASS = 'chatcast-widget-host';
/** What a masked input value becomes, whatever its length. */
export const INPUT_MASK = '••••••••';

/** Inputs whose value is secret by nature. */
export const SECRET_INPUT_SELECTORS = [
  'input[type="password" i]',
  `[${SECRET_ATTR}]`,
  // rrweb's own mark for an input it saw change from type=password.
  'input[data-rr-is-password]',
  // Password fields by their autofill hints or names, even while shown as text.
  'input[autocomplete*="password" i]',
  'input[name*="passw" i]',
  'input[id*="passw" i]',
  // Payment cards: cc-number, cc-csc, cc-exp, cc-exp-month, cc-exp-year, cc-name, cc-type…
  // (contains, not starts-with: "billing cc-number" and "section-x cc-csc" are valid too).
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

/** Elements whose text is masked. `.rr-mask` is rrweb's maskTextClass. */
export const MASK_SELECTORS = ['[data-chatcast-mask]', '.rr-mask'];

export const SECRET_INPUT_SELECTOR = SECRET_INPUT_SELECTORS.join(', ');

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

/** Whether an input/textarea/select is secret right now (or was marked as such). */
export function isSecretInput(el: Element): boolean {
  try {
    return el.matches(SECRET_INPUT_SELECTOR);
  } catch {
    return el.hasAttribute(SECRET_ATTR);
  }
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

/** rrweb's privacy options for a site's settings. */
export function rrwebPrivacy(privacy: PrivacySettings | null | undefined): RrwebPrivacy {
  const maskAll = !!privacy?.mask_all_inputs;
  const block = [...SECRET_INPUT_SELECTORS, ...PRIVATE_SELECTORS, ...validSelectors(privacy?.block_selectors)];
  const mask = [...MASK_SELECTORS, ...validSelectors(privacy?.mask_selectors)];
  const maskSelector = mask.join(', ');

  // rrweb calls maskInputFn only for the input types listed here, so every
  // type that can hold typed text is listed and the function decides. Passing
  // this object replaces rrweb's default ({password: true}); password stays in.
  const maskInputOptions: Record<string, boolean> = {
    password: true,
    hidden: true,
    text: true,
    textarea: true,
    email: true,
    tel: true,
    number: true,
    search: true,
    url: true,
    date: true,
    'datetime-local': true,
    month: true,
    week: true,
    time: true,
    color: true,
    range: true,
    file: true,
    // For <select>, rrweb also drops the `selected` option when this is on:
    // only then is the choice itself private.
    select: maskAll,
  };

  const maskInputFn = (text: string, element: HTMLElement): string => {
    if (!text) return text;
    try {
      if (maskAll || isSecretInput(element)) return INPUT_MASK;
      const type = (element.getAttribute('type') || '').toLowerCase();
      if (element.tagName === 'INPUT' && type === 'hidden') return INPUT_MASK;
      if (element.closest(maskSelector)) return INPUT_MASK;
    } catch {
      return INPUT_MASK; // when in doubt, mask
    }
    return text;
  };

  return {
    blockClass: 'rr-block',
    blockSelector: block.join(', '),
    maskTextClass: 'rr-mask',
    maskTextSelector: mask.join(', '),
    maskAllInputs: false,
    maskInputOptions,
    maskInputFn,
    // Every visible character becomes a bullet; spaces and line breaks stay, so the layout does.
    maskTextFn: (text: string) => text.replace(/\S/gu, '•'),
  };
}

/**
 * Marks secret inputs with SECRET_ATTR so that they stay blocked when a
 * "show password" button turns them into text inputs.
 *
 * Passive mode runs from the widget's start on every page: it sends nothing
 * and only watches `type` attributes, to remember an input that stops being
 * a password before any broadcast. Recording mode (from a broadcast's start
 * until its end) marks every secret input, open shadow roots included, and
 * catches inputs added later before rrweb serializes them: this observer is
 * created before rrweb's, so its callback runs first.
 */
export class SecretWatch {
  private observer: MutationObserver | null = null;
  private observed = new WeakSet<Node>();
  private recording = false;
  private readonly off: (() => void)[] = [];

  startPassive(): void {
    if (this.observer) return;
    try {
      this.observer = new MutationObserver((records) => this.onRecords(records));
      this.observer.observe(document, PASSIVE);
    } catch {
      this.observer = null;
    }
  }

  startRecording(): void {
    this.startPassive();
    this.recording = true;
    this.observed = new WeakSet();
    this.observeRoot(document);
    this.markWithin(document);
    this.scanShadowRoots();
    const opts = { capture: true } as const;
    const onEvent = (ev: Event) => {
      const path = typeof ev.composedPath === 'function' ? ev.composedPath() : [];
      const target = (path[0] ?? ev.target) as Element | null;
      if (target && target.nodeType === 1) consider(target);
    };
    for (const type of ['focusin', 'beforeinput', 'input', 'change'] as const) {
      window.addEventListener(type, onEvent, opts);
      this.off.push(() => window.removeEventListener(type, onEvent, opts));
    }
  }

  /** Back to passive: the listeners go, the marks stay (a toggled password stays secret). */
  stopRecording(): void {
    if (!this.recording) return;
    this.recording = false;
    for (const off of this.off.splice(0)) off();
    if (!this.observer) return;
    this.observer.disconnect();
    try {
      this.observer.observe(document, PASSIVE);
    } catch {
      // nothing to watch
    }
  }

  private observeRoot(root: Document | ShadowRoot): void {
    if (!this.observer || this.observed.has(root)) return;
    this.observed.add(root);
    this.observer.observe(root, RECORDING);
  }

  private onRecords(records: MutationRecord[]): void {
    for (const r of records) {
      if (r.type === 'attributes') {
        const el = r.target as Element;
        if (el.tagName !== 'INPUT') continue;
        if ((r.attributeName === 'type' && (r.oldValue || '').toLowerCase() === 'password') || (this.recording && isSecretInput(el))) {
          mark(el);
        }
      } else if (r.type === 'childList' && this.recording) {
        r.addedNodes.forEach((n) => {
          if (n.nodeType !== 1) return;
          const el = n as Element;
          if (FIELD_TAGS.has(el.tagName)) consider(el);
          else if (el.firstElementChild) this.markWithin(el);
          if (el.shadowRoot) this.adoptShadowRoot(el.shadowRoot);
        });
      }
    }
  }

  private markWithin(root: ParentNode): void {
    try {
      root.querySelectorAll(SECRET_INPUT_SELECTOR).forEach(mark);
    } catch {
      // nothing to mark
    }
  }

  private adoptShadowRoot(root: ShadowRoot): void {
    this.observeRoot(root);
    this.markWithin(root);
  }

  /** Open shadow roots are reached neither by querySelectorAll nor by the document's observer. */
  private scanShadowRoots(): void {
    const walk = (root: Document | ShadowRoot) => {
      const it = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
      for (let n = it.nextNode(); n; n = it.nextNode()) {
        const sr = (n as Element).shadowRoot;
        if (sr) {
          this.adoptShadowRoot(sr);
          walk(sr);
        }
      }
    };
    try {
      walk(document);
    } catch {
      // best effort: the block selectors still cover type=password
    }
  }
}

const PASSIVE: MutationObserverInit = { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['type'] };
const RECORDING: MutationObserverInit = {
  subtree: true,
  childList: true,
  attributes: true,
  attributeOldValue: true,
  attributeFilter: ['type', 'autocomplete', 'name', 'id'],
};
const FIELD_TAGS = new Set(['INPUT', 'SELECT', 'TEXTAREA']);

function consider(el: Element): void {
  if (FIELD_TAGS.has(el.tagName) && isSecretInput(el)) mark(el);
}

function mark(el: Element): void {
  if (!el.hasAttribute(SECRET_ATTR)) el.setAttribute(SECRET_ATTR, '');
}
