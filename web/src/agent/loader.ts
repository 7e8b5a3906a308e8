// Loads agent.js (the recorder) from the widget's own server, once, when a
// broadcast is about to start. Works under CSP with nonces (the widget's own
// nonce is reused) and under Trusted Types (a `chatcast` policy that allows
// exactly this one URL).

import { AGENT_API_VERSION, AGENT_SCRIPT_PROP, type AgentApi } from './api';

const LOAD_TIMEOUT_MS = 20_000;

let loading: Promise<AgentApi> | null = null;

/** The recorder's API; the same promise for every caller. A failed load may be retried later. */
export function loadAgent(url: string, nonce: string | null): Promise<AgentApi> {
  if (!loading) {
    loading = load(url, nonce);
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

function load(url: string, nonce: string | null): Promise<AgentApi> {
  return new Promise<AgentApi>((resolve, reject) => {
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
      const api = (script as unknown as Record<string, unknown>)[AGENT_SCRIPT_PROP] as AgentApi | undefined;
      if (!api || typeof api.start !== 'function') reject(new Error('the recorder script did not start'));
      else if (api.version !== AGENT_API_VERSION) reject(new Error(`the recorder is version ${api.version}, the widget needs ${AGENT_API_VERSION}`));
      else resolve(api);
    };
    const timer = setTimeout(() => finish('the recorder script took too long to load'), LOAD_TIMEOUT_MS);
    script.async = true;
    if (nonce) script.nonce = nonce;
    script.addEventListener('load', () => finish(null));
    script.addEventListener('error', () => finish('the recorder script could not be loaded (network or the page\'s Content-Security-Policy)'));
    try {
      setSrc(script, url);
    } catch (e) {
      finish(`the recorder script was refused by the page (${(e as Error)?.message || e})`);
      return;
    }
    (document.head || document.documentElement).appendChild(script);
  });
}

/** script.src = url, through a Trusted Types policy when the page enforces them. */
function setSrc(script: HTMLScriptElement, url: string): void {
  try {
    script.src = url;
    return;
  } catch (e) {
    const tt = (window as unknown as { trustedTypes?: { createPolicy(name: string, rules: object): { createScriptURL(u: string): unknown } } }).trustedTypes;
    if (!tt) throw e;
    const policy = policyFor(tt);
    (script as unknown as { src: unknown }).src = policy.createScriptURL(url);
  }
}

let ttPolicy: { createScriptURL(u: string): unknown } | null = null;
function policyFor(tt: { createPolicy(name: string, rules: object): { createScriptURL(u: string): unknown } }) {
  if (!ttPolicy) {
    ttPolicy = tt.createPolicy('chatcast', {
      createScriptURL: (u: string) => {
        if (!new URL(u, location.href).pathname.endsWith('/agent.js')) throw new TypeError('chatcast: only agent.js may be loaded');
        return u;
      },
    });
  }
  return ttPolicy;
}
