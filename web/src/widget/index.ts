// The chat widget: one classic script any site embeds with
//   <script src="https://SERVER/widget.js" data-site="KEY" async></script>
// It finds its own tag, connects to wss://SERVER/ws/visitor?site=KEY and draws
// its UI in a shadow root. Nothing it does may throw into the host page.

import { findOwnScript, readConfig } from './config';
import { Screencast } from './screencast';
import { ChatWidget } from './widget';

function main(): void {
  // document.currentScript is only set while this script first runs.
  const script = findOwnScript();

  const boot = () => {
    try {
      // Embedded twice (or by two snippets)? One widget is enough.
      if (document.querySelector('[data-testid="chatcast-widget"][data-chatcast-widget]')) return;
      const config = readConfig(script);
      if (!config) return;
      const widget = new ChatWidget(config);
      // The page's handle: Chatcast.identify({...}); an identity set before the
      // script loaded (window.Chatcast = { identity: {...} }) is used too.
      const w = window as unknown as { Chatcast?: { identity?: unknown } };
      const early = w.Chatcast?.identity;
      w.Chatcast = Object.freeze({ identify: (who: unknown) => widget.identify(who) }) as typeof w.Chatcast;
      if (early) widget.identify(early);
      window.dispatchEvent(new Event('chatcast:ready'));
      // Features beside the chat attach here (widget.onFrame, sendFrame, noticeArea…).
      try {
        new Screencast(widget, config);
      } catch (e) {
        console.warn('[chatcast] screen broadcast is unavailable:', e);
      }
    } catch (e) {
      console.warn('[chatcast] the chat widget failed to start:', e);
    }
  };

  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot, { once: true });
}

try {
  main();
} catch (e) {
  console.warn('[chatcast] the chat widget failed to start:', e);
}
