// Loads one of the widget server's own extra scripts (the recorder, a language
// pack) into the host page, once per URL: the script hands over what it
// brings by setting a property on its own <script> element, so nothing is
// left on `window`. Works under CSP with nonces (the widget's own nonce is
// reused) and under Trusted Types (a `chatcast` policy that allows exactly
// these scripts).

const LOAD_TIMEOUT_MS = 20_000;

const loading = new Map<string, Promise<unknown>>();

/**
 * What the script at `url` put on its element under `prop`; the same promise
 * for every caller of one URL. A failed load may be retried later.
 */
export function loadScript(url: string, nonce: string | null, prop: string, what: string): Promise<unknown> {
  let p = loading.get(url);
  if (!p) {
    p = load(url, nonce, prop, what);
    loading.set(url, p);
    p.catch(() => loading.delete(url));
  }
  return p;
}

function load(url: string, nonce: string | null, prop: string, what: string): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const script = document.createElement('script');
    let done = false;
    const finish = (err: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      script.remove();
      if (err) {
        reject(new Error(err));
        return;
      }
      const value = (script as unknown as Record<string, unknown>)[prop];
      if (value === undefined) reject(new Error(`the ${what} script did not start`));
      else resolve(value);
    };
    const timer = setTimeout(() => finish(`the ${what} script took too long to load`), LOAD_TIMEOUT_MS);
    script.async = true;
    if (nonce) script.nonce = nonce;
    script.addEventListener('load', () => finish(null));
    script.addEventListener('error', () => finish(`the ${what} script could not be loaded (network or the page's Content-Security-Policy)`));
    try {
      setSrc(script, url);
    } catch (e) {
      finish(`the ${what} script was refused by the page (${(e as Error)?.message || e})`);
      return;
    }
    (document.head || document.documentElement).appendChild(script);
  });
}

/** Paths of the scripts the Trusted Types policy lets through. */
const ALLOWED = /\/(agent\.js|lang\/[a-z]{2}\.js)$/;

/** script.src = url, through a Trusted Types policy when the page enforces them. */
function setSrc(script: HTMLScriptElement, url: string): void {
  try {
    script.src = url;
    return;
  } catch (e) {
    const tt = (window as unknown as { trustedTypes?: TrustedTypes }).trustedTypes;
    if (!tt) throw e;
    (script as unknown as { src: unknown }).src = policyFor(tt).createScriptURL(url);
  }
}

interface TrustedTypes {
  createPolicy(name: string, rules: object): { createScriptURL(u: string): unknown };
}

let ttPolicy: { createScriptURL(u: string): unknown } | null = null;
function policyFor(tt: TrustedTypes) {
  if (!ttPolicy) {
    ttPolicy = tt.createPolicy('chatcast', {
      createScriptURL: (u: string) => {
        if (!ALLOWED.test(new URL(u, location.href).pathname)) throw new TypeError('chatcast: only its own scripts may be loaded');
        return u;
      },
    });
  }
  return ttPolicy;
}
