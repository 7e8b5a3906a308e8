// "Show what stays hidden": the visitor's own page, with every area the
// consultant will never see drawn over it — grey where an element is blocked
// (nothing of it is sent, not even its text's length), dotted where it is
// masked (its layout is sent, its text and values are not). It finds them
// with the recorder's own rules (agent/privacy.ts), so it cannot disagree
// with what is sent. Nothing here is sent anywhere: the widget is never
// mirrored.

import { T } from './i18n';
import {
  INPUT_MASK,
  type Rules,
  type SecretWatch,
  WIDGET_HOST_CLASS,
  closestDeep,
  queryRoots,
} from '../agent/privacy';

export interface HiddenParts {
  /** Outermost blocked elements (private blocks, secret fields). */
  blocked: Element[];
  /** Outermost masked zones, and fields whose values are masked. */
  masked: Element[];
  /** How many fields (inputs, text areas, selects) stay hidden or masked. */
  fields: number;
  /** How many other areas stay hidden or masked. */
  areas: number;
}

const FIELD_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

/** What of this page stays hidden under these rules, as of now. */
export function hiddenParts(r: Rules, secrets: SecretWatch): HiddenParts {
  const roots = secrets.knownRoots;
  const inWidget = (el: Element) => !!closestDeep(el, `.${WIDGET_HOST_CLASS}`);
  const blockedAll = new Set<Element>([...secrets.secretFields(), ...queryRoots(roots, r.blockSelector)]);
  // Drawn once: an element inside another hidden one is covered by it.
  const outermost = (el: Element) => !closestDeep(el.parentNode, r.blockSelector);
  const blocked = [...blockedAll].filter((el) => !inWidget(el) && outermost(el));
  const isBlocked = (el: Element) => secrets.isSecret(el) || !!closestDeep(el, r.blockSelector);
  const zones = queryRoots(roots, r.maskSelector).filter(
    (el) => !inWidget(el) && !isBlocked(el) && !closestDeep(el.parentNode, r.maskSelector),
  );
  // Fields whose values are masked outside zones: hidden inputs carry no visible area; every field when "mask all inputs".
  const maskedFields = r.maskAllInputs
    ? queryRoots(roots, 'input, textarea, select').filter(
        (el) => (el.getAttribute('type') || '').toLowerCase() !== 'hidden' && !inWidget(el) && !isBlocked(el) && !closestDeep(el, r.maskSelector),
      )
    : [];
  const inZoneFields = zones.reduce((n, z) => n + z.querySelectorAll('input, textarea, select').length + (FIELD_TAGS.has(z.tagName) ? 1 : 0), 0);
  const blockedFields = blocked.filter((el) => FIELD_TAGS.has(el.tagName)).length;
  return {
    blocked,
    masked: [...zones, ...maskedFields],
    fields: blockedFields + maskedFields.length + inZoneFields,
    areas: blocked.length - blockedFields + zones.filter((z) => !FIELD_TAGS.has(z.tagName)).length,
  };
}

/** The overlay on the visitor's page. */
export class HiddenPreview {
  private layer: HTMLElement | null = null;
  private boxes: HTMLElement | null = null;
  private parts: HiddenParts | null = null;
  private frame = 0;
  private refresh: ReturnType<typeof setInterval> | null = null;
  private readonly onMove = () => this.schedule();

  /**
   * `hooks.opened`/`closed`: the widget folds its panel away while the page is
   * shown whole, and brings it back after.
   */
  constructor(
    private readonly container: HTMLElement,
    private readonly find: () => HiddenParts,
    private readonly hooks: { opened?(): void; closed?(): void } = {},
  ) {}

  get isOpen(): boolean {
    return !!this.layer;
  }

  /** Shows the overlay; `who`: the consultant's name, for its title. */
  open(who: string, opener?: HTMLElement): void {
    this.close();
    const layer = el('div', 'hp');
    layer.setAttribute('data-testid', 'hidden-preview');
    layer.setAttribute('role', 'dialog');
    layer.setAttribute('aria-label', T.previewLabel);
    const bar = el('div', 'hp-bar');
    const text = el('p', 'hp-text');
    const title = el('strong');
    title.textContent = T.previewTitle(who);
    const legend = el('span', 'hp-legend');
    const grey = el('span', 'hp-key hp-key-blocked');
    grey.textContent = T.neverSent;
    const dotted = el('span', 'hp-key hp-key-masked');
    dotted.textContent = T.masked;
    legend.append(grey, dotted);
    const count = el('span', 'hp-count');
    text.append(title, legend, count);
    const close = el('button', 'hp-close');
    close.type = 'button';
    close.setAttribute('data-testid', 'hidden-preview-close');
    close.textContent = T.close;
    close.addEventListener('click', () => {
      this.close();
      // The opener may have been folded away with the panel: it is back now.
      queueMicrotask(() => opener?.isConnected && opener.focus());
    });
    bar.append(text, close);
    this.boxes = el('div', 'hp-boxes');
    layer.append(this.boxes, bar);
    layer.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close.click();
    });
    this.hooks.opened?.();
    this.container.append(layer);
    this.layer = layer;
    this.update();
    const p = this.parts!;
    count.textContent = p.blocked.length + p.masked.length === 0 ? T.nothingHidden : T.hiddenCount(p.fields, p.areas);
    addEventListener('scroll', this.onMove, { capture: true, passive: true });
    addEventListener('resize', this.onMove, { passive: true });
    // The page changes: look again now and then.
    this.refresh = setInterval(() => this.update(), 1000);
    close.focus({ preventScroll: true });
  }

  close(): void {
    if (!this.layer) return;
    this.layer.remove();
    this.layer = this.boxes = null;
    this.parts = null;
    removeEventListener('scroll', this.onMove, { capture: true });
    removeEventListener('resize', this.onMove);
    if (this.refresh) clearInterval(this.refresh);
    this.refresh = null;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.hooks.closed?.();
  }

  private schedule(): void {
    if (this.frame || !this.layer) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private update(): void {
    try {
      this.parts = this.find();
    } catch (e) {
      console.warn('[chatcast] the preview of what stays hidden failed:', e);
      this.parts = { blocked: [], masked: [], fields: 0, areas: 0 };
    }
    this.draw();
  }

  private draw(): void {
    if (!this.boxes || !this.parts) return;
    const out: HTMLElement[] = [];
    const add = (target: Element, kind: 'blocked' | 'masked') => {
      const r = viewportRect(target);
      if (!r || r.width < 1 || r.height < 1) return;
      if (r.bottom < 0 || r.right < 0 || r.top > innerHeight || r.left > innerWidth) return;
      const b = el('div', `hp-box hp-${kind}`);
      b.setAttribute('data-kind', kind);
      b.style.left = `${r.left}px`;
      b.style.top = `${r.top}px`;
      b.style.width = `${r.width}px`;
      b.style.height = `${r.height}px`;
      if (kind === 'masked' && FIELD_TAGS.has(target.tagName)) b.textContent = INPUT_MASK;
      out.push(b);
    };
    for (const t of this.parts.blocked) add(t, 'blocked');
    for (const t of this.parts.masked) add(t, 'masked');
    this.boxes.replaceChildren(...out);
  }
}

/** An element's box in the top window's viewport (through same-origin frames). */
function viewportRect(target: Element): DOMRect | null {
  try {
    let r = target.getBoundingClientRect();
    let win = target.ownerDocument.defaultView;
    while (win && win !== window) {
      const frame = win.frameElement;
      if (!frame) return null;
      const f = frame.getBoundingClientRect();
      r = new DOMRect(r.left + f.left, r.top + f.top, r.width, r.height);
      win = frame.ownerDocument.defaultView;
    }
    return r;
  } catch {
    return null;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}
