// The URL rule of the privacy policy (docs/privacy.md, "URLs"): wherever a
// page URL leaves the visitor's page, the query's values and the fragment are
// masked; scheme, host, path and parameter names stay, so that the consultant
// still sees where the visitor is. A site may list parameters whose values
// stay visible (`keep`; the entry `#` keeps the fragment whole).
//
// The server applies the same rule again before it stores or forwards a URL
// (crates/chatcast-protocol/src/url_mask.rs); both are tested on the same
// cases (url_mask_cases.json). It works on the string as written, so that
// masking twice changes nothing.

/** What a masked value becomes. */
export const URL_MASK = '•••';

const HIERARCHICAL = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file']);

/** `url` with its secrets masked; `keep`: parameter names whose values stay. */
export function maskUrl(url: string, keep: readonly string[] = []): string {
  const kept = (name: string) => keep.some((k) => k.toLowerCase() === name.toLowerCase());
  const hash = url.indexOf('#');
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? null : url.slice(hash + 1);
  const q = beforeHash.indexOf('?');
  const base = q < 0 ? beforeHash : beforeHash.slice(0, q);
  const query = q < 0 ? null : beforeHash.slice(q + 1);
  const scheme = schemeOf(base);
  if (scheme !== null && !HIERARCHICAL.has(scheme.toLowerCase())) {
    // mailto:, tel:, javascript:, data:, blob: …: what follows the scheme is the data.
    return base.slice(0, scheme.length + 1) + (base.length > scheme.length + 1 ? URL_MASK : '');
  }
  let out = stripUserinfo(base);
  if (query !== null) out += '?' + maskParams(query, kept);
  if (fragment !== null) {
    out += '#';
    if (fragment === '' || keep.includes('#') || fragment === URL_MASK) out += fragment;
    else if (looksLikeParams(fragment)) out += maskParams(fragment, kept);
    else out += URL_MASK;
  }
  return out;
}

function maskParams(q: string, kept: (name: string) => boolean): string {
  return q
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0) return part === '' || part === URL_MASK || kept(part) ? part : URL_MASK; // a bare token is a value
      const name = part.slice(0, eq);
      if (kept(name)) return part;
      return eq === part.length - 1 ? `${name}=` : `${name}=${URL_MASK}`;
    })
    .join('&');
}

const NAME = /^[A-Za-z0-9_.\-[\]]+$/;

function looksLikeParams(f: string): boolean {
  const s = f.startsWith('/') ? f.slice(1) : f;
  return s !== '' && s.split('&').every((p) => {
    const eq = p.indexOf('=');
    return eq > 0 && NAME.test(p.slice(0, eq));
  });
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

function schemeOf(s: string): string | null {
  const m = SCHEME.exec(s);
  return m ? m[1] : null;
}

function stripUserinfo(base: string): string {
  const i = base.indexOf('//');
  if (i < 0) return base;
  const start = i + 2;
  const slash = base.indexOf('/', start);
  const end = slash < 0 ? base.length : slash;
  const at = base.lastIndexOf('@', end - 1);
  return at >= start ? base.slice(0, start) + base.slice(at + 1) : base;
}
