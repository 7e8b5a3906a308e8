// Where the widget comes from and which site it serves, read from its own tag:
//   <script src="https://chat.example.com/widget.js" data-site="KEY" async></script>

export interface WidgetConfig {
  /** The site key from `data-site`. */
  siteKey: string;
  /** `wss://SERVER/ws/visitor?site=KEY` (ws:// when the script came over http). */
  socketUrl: string;
  /** `wss://SERVER/ws/screen`: a live broadcast's upload socket (`?token=` from `screencast_start`). */
  screenUrl: string;
  /** Optional accent colour from `data-color` (a CSS hex colour). */
  accent: string | null;
  /** The screen recorder, `https://SERVER/agent.js?v=BUILD`, loaded only when a broadcast starts. */
  agentUrl: string;
  /** The widget tag's CSP nonce, reused for agent.js and language packs. */
  nonce: string | null;
  /** `https://SERVER/` (where widget.js came from): files, uploads and language packs are under it. */
  serverUrl: string;
}

/** Content hash of agent.js, set by build.mjs: a new build never meets a cached old recorder. */
declare const CHATCAST_AGENT_HASH: string | undefined;

/** The widget's own <script> tag. Must run while the script executes (currentScript). */
export function findOwnScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.hasAttribute('data-site') && current.src) return current;
  return document.querySelector<HTMLScriptElement>('script[data-site][src*="widget.js"]');
}

/** Reads the configuration from the tag; null (with a console warning) when it is unusable. */
export function readConfig(script: HTMLScriptElement | null): WidgetConfig | null {
  if (!script) {
    console.warn('[chatcast] cannot find the widget\'s <script data-site="…" src="…/widget.js"> tag');
    return null;
  }
  const siteKey = (script.getAttribute('data-site') || '').trim();
  if (!siteKey || siteKey.includes('{{')) {
    console.warn('[chatcast] the widget\'s <script> tag has no usable data-site key');
    return null;
  }
  let url: URL;
  try {
    // Relative to the script itself, so a server behind a path prefix works too.
    url = new URL('ws/visitor', script.src);
  } catch {
    console.warn('[chatcast] cannot derive the server address from the script src', script.src);
    return null;
  }
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '?site=' + encodeURIComponent(siteKey);
  url.hash = '';
  const screen = new URL('screen', url);
  screen.search = '';
  const agent = new URL('agent.js', script.src);
  agent.search = typeof CHATCAST_AGENT_HASH === 'string' && CHATCAST_AGENT_HASH ? '?v=' + CHATCAST_AGENT_HASH : '';
  agent.hash = '';
  const color = script.getAttribute('data-color');
  const accent = color && /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color.trim()) ? color.trim() : null;
  const nonce = script.nonce || script.getAttribute('nonce') || null;
  const server = new URL('.', script.src);
  server.search = '';
  server.hash = '';
  return { siteKey, socketUrl: url.href, screenUrl: screen.href, accent, agentUrl: agent.href, nonce, serverUrl: server.href };
}
