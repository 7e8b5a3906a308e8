// The replica's second wall. The first is the sandbox (no scripts, no
// navigation of the console) and the page's Content-Security-Policy; this one
// takes out, from every node rrweb is about to rebuild, whatever must never
// run, navigate or fetch: a forged broadcast (frames sent straight to the
// protocol, not by our agent) gets an inert page.
//
//   - elements that run, navigate or embed: <script> (also in SVG), <base>,
//     <meta http-equiv> (refresh), <object>, <embed>, <applet>, <portal>,
//     prefetching <link>s, SVG <animate>/<set> of links — made inert;
//   - event-handler attributes (on…), srcdoc, target, form actions;
//   - javascript:, vbscript: and data: URLs (but images and fonts);
//   - any URL — in an attribute, a srcset or CSS url()/@import — outside the
//     broadcasting site's origins: the consultant's browser fetches nothing
//     from anywhere else, the console's own origin included.

type Attrs = Record<string, unknown>;

interface SNode {
  type: number;
  tagName?: string;
  attributes?: Attrs;
  textContent?: string;
  isStyle?: boolean;
  childNodes?: SNode[];
}

// rrweb event types and incremental sources (@rrweb/types)
const EV_FULL_SNAPSHOT = 2;
const EV_INCREMENTAL = 3;
const SRC_MUTATION = 0;
const SRC_STYLE_SHEET_RULE = 8;
const SRC_STYLE_DECLARATION = 13;
const SRC_CANVAS_MUTATION = 9;
const SRC_FONT = 10;
const SRC_LOG = 11;
const SRC_ADOPTED_STYLE_SHEET = 15;
const NODE_ELEMENT = 2;
const NODE_TEXT = 3;

/** What an element that must not be rebuilt as itself becomes: an unknown, inert element. */
export const INERT_TAG = 'chatcast-removed';

const INERT = new Set(['script', 'base', 'object', 'embed', 'applet', 'portal', 'frameset', 'noembed', 'param', 'animate', 'set', 'animatemotion', 'animatetransform', 'handler', 'listener']);
/** <link rel=…> that fetch or run something besides a style sheet. */
const LINK_FETCHES = /(^|\s)(import|prefetch|preload|modulepreload|prerender|dns-prefetch|preconnect|manifest|serviceworker)(\s|$)/i;
/** Attributes whose value is a URL the browser may fetch or navigate to. */
const URL_ATTRS = new Set(['href', 'src', 'xlink:href', 'action', 'formaction', 'poster', 'background', 'data', 'codebase', 'cite', 'ping', 'lowsrc', 'dynsrc', 'longdesc', 'manifest', 'icon', 'archive', 'usemap', 'rr_src', 'rr_dataURL']);
/** Attributes that never stay. */
const DROP = new Set(['srcdoc', 'target', 'formtarget', 'action', 'formaction', 'ping', 'http-equiv', 'rr_src', 'autofocus', 'nonce', 'integrity', 'is']);
/** data: URLs that draw and never run: images (not SVG, which may script) and fonts. */
const SAFE_DATA = /^data:(image\/(png|jpe?g|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon)|font\/[a-z0-9.+-]+|application\/(font-woff2?|x-font-[a-z0-9]+|vnd\.ms-fontobject))[;,]/i;

export class ReplicaSanitizer {
  /**
   * `prefixes`: where the broadcasting site's assets may come from, as URL
   * prefixes (`https://shop.example.com/`; the demo site: this server's
   * `/demo/` only). Nothing else is fetched, the console's own API included.
   */
  constructor(private readonly prefixes: readonly string[]) {}

  /** Makes an event safe to rebuild (in place); false: drop it. */
  event(e: { type: number; data: unknown }): boolean {
    const d = e.data as Record<string, any>;
    if (!d || typeof d !== 'object') return true;
    if (e.type === EV_FULL_SNAPSHOT) {
      if (d.node) this.tree(d.node as SNode);
      return true;
    }
    if (e.type !== EV_INCREMENTAL) return true;
    switch (d.source) {
      // The agent records no canvas, fonts or console logs: these can only be
      // forged, and canvas images and font sources would be fetched.
      case SRC_CANVAS_MUTATION:
      case SRC_FONT:
      case SRC_LOG:
        return false;
      case SRC_MUTATION:
        if (Array.isArray(d.adds)) for (const a of d.adds) if (a?.node) this.tree(a.node as SNode);
        if (Array.isArray(d.attributes)) {
          for (const m of d.attributes) {
            if (m?.attributes && typeof m.attributes === 'object') m.attributes = this.attrs(m.attributes, '', true);
          }
        }
        if (Array.isArray(d.texts)) {
          // A text node's new value may be a <style>'s text: its URLs are checked like any CSS.
          for (const t of d.texts) if (typeof t?.value === 'string' && /url\(|@import/i.test(t.value)) t.value = this.css(t.value);
        }
        return true;
      case SRC_STYLE_SHEET_RULE:
        for (const k of ['adds', 'replace', 'replaceSync']) {
          const v = d[k];
          if (typeof v === 'string') d[k] = this.css(v);
          else if (Array.isArray(v)) for (const r of v) if (typeof r?.rule === 'string') r.rule = this.css(r.rule);
        }
        return true;
      case SRC_STYLE_DECLARATION:
        if (d.set && typeof d.set.value === 'string') d.set.value = this.css(d.set.value);
        return true;
      case SRC_ADOPTED_STYLE_SHEET:
        if (Array.isArray(d.styles)) {
          for (const s of d.styles) if (Array.isArray(s?.rules)) for (const r of s.rules) if (typeof r?.rule === 'string') r.rule = this.css(r.rule);
        }
        return true;
      default:
        return true;
    }
  }

  /** A serialized subtree, in place. */
  tree(root: SNode): void {
    const stack: [SNode, boolean][] = [[root, false]];
    while (stack.length) {
      const [n, inStyle] = stack.pop()!;
      let style = false;
      if (n.type === NODE_ELEMENT) {
        const tag = String(n.tagName || '').toLowerCase();
        const a = (n.attributes && typeof n.attributes === 'object' ? n.attributes : {}) as Attrs;
        if (INERT.has(tag) || (tag === 'meta' && 'http-equiv' in a) || (tag === 'link' && LINK_FETCHES.test(String(a.rel ?? '')))) {
          n.tagName = INERT_TAG;
          n.attributes = {};
          n.childNodes = [];
          continue;
        }
        n.attributes = this.attrs(a, tag, false);
        style = tag === 'style';
      } else if (n.type === NODE_TEXT && (n.isStyle || inStyle) && typeof n.textContent === 'string') {
        n.textContent = this.css(n.textContent);
      }
      if (Array.isArray(n.childNodes)) for (const c of n.childNodes) if (c && typeof c === 'object') stack.push([c, style]);
    }
  }

  /** Attributes, in a copy; `changed`: an attribute mutation (a null value removes). */
  attrs(a: Attrs, tag: string, changed: boolean): Attrs {
    const out: Attrs = {};
    for (const [k0, v] of Object.entries(a)) {
      const k = k0.toLowerCase();
      if (k.startsWith('on') || DROP.has(k) || (k === 'src' && (tag === 'iframe' || tag === 'frame'))) {
        if (changed) out[k0] = null; // a mutation that sets one removes it instead
        continue;
      }
      if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') {
        out[k0] = v;
        continue;
      }
      if (k === 'style' && typeof v === 'object') {
        // A style diff from a mutation: property → value or [value, priority].
        const s: Record<string, unknown> = {};
        for (const [p, pv] of Object.entries(v as Record<string, unknown>)) {
          s[p] = typeof pv === 'string' ? this.css(pv) : Array.isArray(pv) ? pv.map((x) => (typeof x === 'string' ? this.css(x) : x)) : pv;
        }
        out[k0] = s;
        continue;
      }
      const s = String(v);
      if (k === 'style' || k === '_csstext') out[k0] = this.css(s);
      else if (k === 'srcset' || k === 'imagesrcset') out[k0] = this.srcset(s);
      else if (URL_ATTRS.has(k)) {
        // A hyperlink's href is shown, never followed; in a mutation the tag is unknown: checked as an asset.
        const ok = this.url(s, k === 'href' && (tag === 'a' || tag === 'area'));
        if (ok !== null) out[k0] = ok;
        else if (changed) out[k0] = null;
      } else if (k === 'attributename' && /href|src/i.test(s)) {
        // SVG animation of a link: never.
        if (changed) out[k0] = null;
      } else out[k0] = s;
    }
    return out;
  }

  /**
   * A URL as it may stay, or null to drop it. `link`: a hyperlink's href,
   * which is shown but never followed (the replica takes no clicks): any
   * http(s) address may stay as text, as long as it runs nothing.
   */
  url(raw: string, link = false): string | null {
    // Browsers ignore whitespace and control characters inside a scheme: "java\tscript:".
    const v = raw.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
    const lower = v.toLowerCase();
    if (lower.startsWith('javascript:') || lower.startsWith('vbscript:') || lower.startsWith('livescript:')) return null;
    if (lower.startsWith('data:')) return SAFE_DATA.test(v) ? raw : null;
    if (lower.startsWith('blob:') || lower.startsWith('filesystem:')) return null;
    if (v.startsWith('#') || v === '') return raw;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      // Relative: rrweb makes every recorded URL absolute, so this is not ours. Drop it.
      return link ? '#' : null;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return link && /^(mailto|tel):$/.test(u.protocol) ? raw : null;
    if (link) return raw;
    return this.prefixes.some((p) => u.href.startsWith(p)) ? raw : null;
  }

  private srcset(s: string): string {
    return s
      .split(',')
      .map((part) => part.trim())
      .filter((part) => {
        const url = part.split(/\s+/)[0] ?? '';
        return url !== '' && this.url(url) !== null;
      })
      .join(', ');
  }

  /** CSS text with every url() and @import outside the site's origins emptied. */
  css(text: string): string {
    if (!/url\(|@import|expression\(|behavior\s*:|-moz-binding/i.test(text)) return text;
    return text
      .replace(/url\(\s*(['"]?)(.*?)\1\s*\)/gis, (m, _q, url: string) => (this.url(unescapeCss(url)) !== null ? m : 'url("")'))
      .replace(/@import\s+(['"])(.*?)\1[^;]*;?/gis, (m, _q, url: string) => (this.url(unescapeCss(url)) !== null ? m : ''))
      .replace(/expression\s*\(|behavior\s*:|-moz-binding\s*:/gi, 'x-removed:');
  }
}

/** CSS escapes (`\6a avascript:`) as the browser reads them. */
function unescapeCss(s: string): string {
  return s.replace(/\\([0-9a-f]{1,6})\s?|\\(.)/gi, (_m, hex: string | undefined, ch: string | undefined) =>
    hex ? String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff)) : (ch ?? ''));
}
