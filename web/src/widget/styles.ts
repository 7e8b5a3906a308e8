// The widget's stylesheet. It lives inside the shadow root: the site's CSS
// cannot reach in and ours cannot leak out. Inheritance is cut at the host
// (`all: initial`), so fonts, colours and sizes are all set here.

/** The host element's own style, each `!important`: a site's CSS must not move or hide it. */
export const HOST_STYLE: [string, string][] = [
  ['all', 'initial'],
  ['position', 'fixed'],
  ['right', '20px'],
  ['bottom', '20px'],
  ['left', 'auto'],
  ['top', 'auto'],
  ['width', '56px'],
  ['height', '56px'],
  ['margin', '0'],
  ['padding', '0'],
  ['z-index', '2147483000'],
  ['transform', 'none'],
  ['filter', 'none'],
  ['opacity', '1'],
  ['visibility', 'visible'],
  ['pointer-events', 'auto'],
];

export const CSS = /* css */ `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }

.root {
  --cc-accent: #4f46e5;
  --cc-accent-strong: #4338ca;
  --cc-on-accent: #ffffff;
  --cc-text: #1f2430;
  --cc-muted: #6b7280;
  --cc-line: #e5e7eb;
  --cc-bg: #ffffff;
  --cc-bg-soft: #f6f7f9;
  --cc-danger: #c81e3a;
  position: relative;
  width: 56px;
  height: 56px;
  font: 400 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  color: var(--cc-text);
  text-align: left;
  direction: ltr;
  -webkit-font-smoothing: antialiased;
  -webkit-text-size-adjust: 100%;
}

button { font: inherit; color: inherit; cursor: pointer; }
.sr-only {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

/* ---- launcher -------------------------------------------------------- */
.launcher {
  position: absolute; right: 0; bottom: 0;
  width: 56px; height: 56px; padding: 0; margin: 0;
  display: grid; place-items: center;
  border: 0; border-radius: 50%;
  background: var(--cc-accent); color: var(--cc-on-accent);
  box-shadow: 0 6px 20px rgba(17, 24, 39, .22), 0 2px 6px rgba(17, 24, 39, .12);
  transition: transform .16s ease, background-color .16s ease, box-shadow .16s ease;
}
.launcher:hover { background: var(--cc-accent-strong); transform: scale(1.05); }
.launcher:active { transform: scale(.97); }
.launcher:focus-visible { outline: 3px solid color-mix(in srgb, var(--cc-accent) 45%, white); outline-offset: 3px; }
.launcher svg { width: 26px; height: 26px; display: block; transition: transform .2s ease, opacity .2s ease; grid-area: 1 / 1; }
.launcher .icon-close { opacity: 0; transform: rotate(-45deg) scale(.7); }
.root[data-open="true"] .launcher .icon-chat { opacity: 0; transform: rotate(45deg) scale(.7); }
.root[data-open="true"] .launcher .icon-close { opacity: 1; transform: none; }
.badge {
  position: absolute; top: -4px; right: -4px;
  min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; border: 2px solid #fff;
  background: #e11d48; color: #fff;
  font-size: 12px; font-weight: 700; line-height: 18px; text-align: center;
  box-shadow: 0 2px 6px rgba(225, 29, 72, .35);
  animation: cc-pop .25s ease-out;
}
.root[data-open="true"] .badge { display: none; }

/* ---- teaser: a new message while the panel is closed ----------------- */
.teaser {
  position: absolute; right: 0; bottom: 70px;
  width: max-content; max-width: min(300px, calc(100vw - 40px));
  display: flex; align-items: flex-start;
  background: var(--cc-bg); border: 1px solid var(--cc-line); border-radius: 14px;
  box-shadow: 0 10px 30px rgba(17, 24, 39, .16), 0 2px 6px rgba(17, 24, 39, .06);
  animation: cc-in .2s ease-out;
}
.root[data-open="true"] .teaser { display: none; }
.teaser-body {
  flex: 1; min-width: 0; display: flex; flex-direction: column; gap: 2px;
  margin: 0; padding: 12px 4px 12px 14px; border: 0; background: transparent; text-align: left;
  border-radius: 14px 0 0 14px;
}
.teaser-body:focus-visible, .teaser-close:focus-visible { outline: 2px solid var(--cc-accent); outline-offset: -2px; }
.teaser-name { font-size: 12px; font-weight: 650; color: var(--cc-accent); }
.teaser-text {
  font-size: 14px; color: var(--cc-text);
  display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; overflow-wrap: anywhere;
}
.teaser-close {
  flex: none; width: 28px; height: 28px; margin: 6px 6px 0 0; padding: 0;
  display: grid; place-items: center; border: 0; border-radius: 8px; background: transparent; color: var(--cc-muted);
}
.teaser-close:hover { background: var(--cc-bg-soft); color: var(--cc-text); }
.teaser-close svg { width: 16px; height: 16px; }

/* ---- panel ----------------------------------------------------------- */
.panel {
  position: absolute; right: 0; bottom: 72px;
  width: min(376px, calc(100vw - 40px));
  height: min(580px, calc(100vh - 120px));
  min-height: 300px;
  display: flex; flex-direction: column;
  background: var(--cc-bg);
  border-radius: 16px;
  overflow: hidden;
  box-shadow: 0 16px 48px rgba(17, 24, 39, .20), 0 4px 12px rgba(17, 24, 39, .08);
  border: 1px solid rgba(17, 24, 39, .06);
  transform-origin: bottom right;
  animation: cc-in .18s ease-out;
}
/* On the left of the screen (moved, or off the page's form fields). */
.root[data-side="left"] .panel { right: auto; left: 0; transform-origin: bottom left; }
.root[data-side="left"] .teaser { right: auto; left: 0; }
.root[data-side="left"] .corner { right: auto; left: 66px; }
@keyframes cc-in { from { opacity: 0; transform: translateY(8px) scale(.98); } to { opacity: 1; transform: none; } }
@keyframes cc-pop { from { transform: scale(.4); } to { transform: scale(1); } }

.header {
  flex: none;
  display: flex; align-items: center; gap: 12px;
  padding: 16px 14px 16px 18px;
  background: linear-gradient(135deg, var(--cc-accent), var(--cc-accent-strong));
  color: var(--cc-on-accent);
}
.avatar {
  flex: none; width: 40px; height: 40px; border-radius: 50%;
  display: grid; place-items: center;
  background: rgba(255, 255, 255, .18);
}
.avatar svg { width: 22px; height: 22px; }
.titles { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.25; letter-spacing: -.01em; }
.status {
  margin: 2px 0 0; display: flex; align-items: center; gap: 6px;
  font-size: 12.5px; opacity: .92; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}
.dot { flex: none; width: 8px; height: 8px; border-radius: 50%; background: #34d399; box-shadow: 0 0 0 2px rgba(255,255,255,.25); }
.status[data-state="connecting"] .dot,
.status[data-state="reconnecting"] .dot { background: #fbbf24; animation: cc-pulse 1.2s ease-in-out infinite; }
.status[data-state="refused"] .dot { background: #d1d5db; }
@keyframes cc-pulse { 50% { opacity: .35; } }
.icon-button {
  flex: none; width: 34px; height: 34px; padding: 0; margin: 0;
  display: grid; place-items: center;
  border: 0; border-radius: 8px; background: transparent; color: inherit;
}
.icon-button:hover { background: rgba(255, 255, 255, .16); }
.icon-button:focus-visible { outline: 2px solid #fff; outline-offset: 1px; }
.icon-button svg { width: 20px; height: 20px; }

.notices:empty { display: none; }
.notices { flex: none; border-bottom: 1px solid var(--cc-line); }

.log {
  flex: 1; min-height: 0; overflow-y: auto; overscroll-behavior: contain;
  padding: 16px 14px 8px;
  background: var(--cc-bg-soft);
  display: flex; flex-direction: column;
  scrollbar-width: thin;
}
.log:focus-visible { outline: 2px solid var(--cc-accent); outline-offset: -2px; }
.messages { display: flex; flex-direction: column; gap: 2px; }
.empty {
  margin: auto 0 12px; padding: 14px 16px;
  background: var(--cc-bg); border: 1px solid var(--cc-line); border-radius: 14px;
  color: var(--cc-text); font-size: 14px;
}
.empty strong { display: block; font-weight: 650; margin-bottom: 2px; }
.empty span { color: var(--cc-muted); white-space: pre-line; }
.empty strong[hidden] + span { color: var(--cc-text); }

.typing { margin-top: 8px; color: var(--cc-muted); font-size: 12.5px; font-style: italic; }
.typing[hidden] { display: none; }
.msg { display: flex; flex-direction: column; max-width: 82%; margin-top: 10px; }
.msg.cont { margin-top: 2px; }
.msg[data-name]::before {
  content: attr(data-name);
  font-size: 12px; font-weight: 600; color: var(--cc-muted); margin: 0 0 3px 4px;
}
.msg.cont::before { display: none; }
.msg::after {
  content: attr(data-meta);
  font-size: 11px; color: var(--cc-muted); margin: 3px 6px 0;
}
.msg.cont-next::after { display: none; }
.bubble {
  padding: 8px 12px; border-radius: 16px;
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
  font-size: 14px; line-height: 1.45;
}
.bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }

.msg[data-author="visitor"] { align-self: flex-end; align-items: flex-end; }
.msg[data-author="visitor"] .bubble::before {
  content: "You: ";
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
.msg[data-author="visitor"] .bubble { background: var(--cc-accent); color: var(--cc-on-accent); border-bottom-right-radius: 6px; }
.msg[data-author="visitor"].cont .bubble { border-top-right-radius: 6px; }
.msg[data-author="visitor"][data-state="pending"] .bubble { opacity: .62; }
.msg[data-author="visitor"][data-state="failed"] .bubble { background: #fff; color: var(--cc-danger); border: 1px solid #f3b5c0; }
.msg[data-author="visitor"][data-state="failed"]::after { color: var(--cc-danger); }

.msg[data-author="consultant"] { align-self: flex-start; align-items: flex-start; }
.msg[data-author="consultant"] .bubble { background: var(--cc-bg); border: 1px solid var(--cc-line); border-bottom-left-radius: 6px; }
.msg[data-author="consultant"].cont .bubble { border-top-left-radius: 6px; }

.msg[data-author="system"] { align-self: center; align-items: center; max-width: 92%; margin: 12px 0 4px; }
.msg[data-author="system"] .bubble {
  padding: 4px 12px; border-radius: 999px;
  background: #eceef2; color: var(--cc-muted); font-size: 12px; text-align: center;
}
.msg[data-author="system"]::after { display: none; }
.msg[data-kind="receipt"] .bubble {
  border-radius: 10px; padding: 8px 12px; text-align: left; line-height: 1.45;
  background: #f1f5f9; border: 1px solid #dbe2ea; color: var(--cc-text);
}

/* ---- composer -------------------------------------------------------- */
.composer { flex: none; border-top: 1px solid var(--cc-line); background: var(--cc-bg); padding: 10px 10px 8px 14px; }
.row { display: flex; align-items: flex-end; gap: 8px; }
.input {
  flex: 1; min-width: 0; display: block;
  margin: 0; padding: 8px 0; border: 0; outline: 0; resize: none;
  max-height: 120px; min-height: 36px;
  background: transparent; color: var(--cc-text);
  font: inherit; font-size: 14.5px; line-height: 20px;
}
@media (max-width: 480px) { .input { font-size: 16px; } }
.input::placeholder { color: #9ca3af; }
.input:disabled { cursor: not-allowed; }
.composer:focus-within { box-shadow: inset 0 2px 0 -0px var(--cc-accent); }
.send {
  flex: none; width: 36px; height: 36px; padding: 0; margin: 0;
  display: grid; place-items: center;
  border: 0; border-radius: 10px;
  background: var(--cc-accent); color: var(--cc-on-accent);
  transition: background-color .15s ease, opacity .15s ease;
}
.send:hover { background: var(--cc-accent-strong); }
.send:focus-visible { outline: 3px solid color-mix(in srgb, var(--cc-accent) 40%, white); outline-offset: 2px; }
.send svg { width: 18px; height: 18px; }
.send[data-empty="true"] { opacity: .45; }
.send:disabled { opacity: .35; cursor: not-allowed; }
.attach {
  flex: none; width: 32px; height: 36px; padding: 0; margin: 0 0 0 -6px;
  display: grid; place-items: center; border: 0; border-radius: 8px;
  background: transparent; color: var(--cc-muted); cursor: pointer;
}
.attach:hover { color: var(--cc-text); background: #f3f4f6; }
.attach:focus-visible { outline: 2px solid var(--cc-accent); outline-offset: -2px; }
.attach:disabled { opacity: .35; cursor: not-allowed; }
.attach svg { width: 18px; height: 18px; }
/* A file in a bubble: an image thumbnail, or a chip that downloads. */
.bubble .attachment { display: block; text-decoration: none; color: inherit; }
.bubble .attachment + * { margin-top: 6px; }
.bubble:has(> .attachment[data-type="image"]:only-child) { padding: 3px; }
.bubble .attachment[data-type="image"] img {
  display: block; max-width: 100%; max-height: 220px; min-width: 48px; min-height: 48px; object-fit: contain;
  border-radius: 10px; background: rgba(0,0,0,.06);
}
.bubble .attachment[data-type="file"] {
  display: grid; grid-template-columns: auto 1fr; column-gap: 8px; align-items: center; padding: 6px 10px; border-radius: 10px;
  background: rgba(0,0,0,.06); border: 1px solid rgba(0,0,0,.08);
}
.msg[data-author="visitor"] .bubble .attachment[data-type="file"] { background: rgba(255,255,255,.16); border-color: rgba(255,255,255,.3); }
.attachment-name { font-weight: 600; overflow-wrap: anywhere; }
.attachment-icon { grid-row: span 2; width: 22px; height: 22px; opacity: .8; }
.attachment-size { font-size: 12px; opacity: .8; }
.hint { display: flex; justify-content: space-between; gap: 8px; min-height: 0; }
.error { margin: 6px 0 2px; font-size: 12.5px; color: var(--cc-danger); }
.counter { margin: 6px 0 2px auto; font-size: 11.5px; color: var(--cc-muted); font-variant-numeric: tabular-nums; }
.counter[data-over="true"] { color: var(--cc-danger); font-weight: 600; }
.unavailable {
  flex: none; margin: 0; padding: 10px 14px;
  background: #fff7ed; color: #9a3412; border-top: 1px solid #fed7aa; font-size: 13px;
}
/* Nobody online: the site's words and an address for the answer. */
.away { flex: none; padding: 10px 14px; background: #f8fafc; border-top: 1px solid var(--cc-line); font-size: 13px; }
.away-text { margin: 0 0 8px; color: var(--cc-text); white-space: pre-line; }
.away-label { display: block; margin: 0 0 4px; color: var(--cc-muted); font-size: 12px; }
.away-email, .prechat input {
  display: block; box-sizing: border-box; width: 100%; margin: 0; padding: 7px 10px;
  border: 1px solid var(--cc-line); border-radius: 8px; background: var(--cc-bg); color: var(--cc-text);
  font: inherit; font-size: 14px;
}
.away-email:focus-visible, .prechat input:focus-visible { outline: 2px solid var(--cc-accent); outline-offset: -1px; }
.away-note { margin: 0; color: var(--cc-muted); }
.root[data-away="true"] .status[data-state="open"] .dot { background: #9ca3af; }
/* The pre-chat form, in place of the composer. */
.prechat { flex: none; display: grid; gap: 8px; padding: 12px 14px; border-top: 1px solid var(--cc-line); background: var(--cc-bg); font-size: 13px; }
.prechat-title { margin: 0; color: var(--cc-text); }
.prechat .field { display: grid; gap: 3px; color: var(--cc-muted); font-size: 12px; }
.prechat-submit {
  justify-self: end; margin: 0; padding: 8px 14px; border: 0; border-radius: 10px; cursor: pointer;
  background: var(--cc-accent); color: var(--cc-on-accent); font: inherit; font-size: 14px; font-weight: 600;
}
.prechat-submit:hover { background: var(--cc-accent-strong); }
.brand { flex: none; padding: 0 0 8px; text-align: center; font-size: 11px; color: #9ca3af; background: var(--cc-bg); }

/* ---- screen broadcast: consent block (in the panel) ------------------- */
.consent { padding: 14px 16px 12px; background: #fffbeb; border-left: 3px solid #f59e0b; }
.consent-head { display: flex; align-items: flex-start; gap: 10px; }
.consent-icon {
  flex: none; width: 30px; height: 30px; border-radius: 50%;
  display: grid; place-items: center; background: #fde68a; color: #92400e;
}
.consent-icon svg { width: 18px; height: 18px; }
.consent-q { margin: 4px 0 0; font-size: 14.5px; line-height: 1.4; color: var(--cc-text); }
.consent-q strong { font-weight: 650; }
.consent-more {
  margin: 6px 0 0 40px; padding: 0; border: 0; background: none;
  color: #92400e; font-size: 13px; text-decoration: underline; text-underline-offset: 2px;
}
.consent-more:focus-visible { outline: 2px solid #f59e0b; outline-offset: 2px; border-radius: 2px; }
.consent-details {
  margin: 8px 0 0 40px; font-size: 13px; line-height: 1.45; color: #44403c;
  max-height: 180px; overflow-y: auto; overscroll-behavior: contain;
}
.consent-details p { margin: 6px 0 2px; }
.consent-details .consent-h { font-weight: 650; color: var(--cc-text); }
.consent-details ul { margin: 0; padding-left: 18px; }
.consent-details li { margin: 2px 0; }
.consent-error { margin: 8px 0 0 40px; font-size: 12.5px; color: var(--cc-danger); }
.consent-actions { display: flex; justify-content: flex-end; gap: 8px; margin-top: 10px; }
.consent-actions button {
  min-width: 72px; height: 34px; padding: 0 16px; border-radius: 9px;
  font-weight: 600; font-size: 14px;
}
.consent-no { border: 1px solid #d6d3d1; background: #fff; color: var(--cc-text); }
.consent-no:hover { background: #f5f5f4; }
.consent-yes { border: 0; background: var(--cc-accent); color: var(--cc-on-accent); }
.consent-yes:hover { background: var(--cc-accent-strong); }
.consent-actions button:disabled { opacity: .55; cursor: default; }
.consent-actions button:focus-visible { outline: 3px solid color-mix(in srgb, var(--cc-accent) 40%, white); outline-offset: 2px; }

/* ---- screen broadcast: "being viewed" pill beside the launcher ---------- */
.corner { position: absolute; right: 66px; bottom: 10px; }
.corner:empty { display: none; }
.viewing {
  display: flex; align-items: center; gap: 8px;
  height: 36px; padding: 0 4px 0 12px; border-radius: 18px;
  background: #1f2430; color: #fff; white-space: nowrap;
  font-size: 13px; font-weight: 500;
  box-shadow: 0 6px 20px rgba(17, 24, 39, .25), 0 2px 6px rgba(17, 24, 39, .12);
  animation: cc-in .2s ease-out;
}
/* Pulses three times as it appears, then stays lit: an endless animation cost
   the visitor's page a style recalculation every frame for as long as it was viewed. */
.viewing-dot { flex: none; width: 9px; height: 9px; border-radius: 50%; background: #ef4444; box-shadow: 0 0 0 3px rgba(239, 68, 68, .3); animation: cc-pulse 1.6s ease-in-out 3; }
.viewing[data-state="resuming"] .viewing-dot { background: #fbbf24; box-shadow: 0 0 0 3px rgba(251, 191, 36, .3); }
.viewing-text { overflow: hidden; text-overflow: ellipsis; max-width: min(240px, calc(100vw - 200px)); }
.viewing-stop {
  flex: none; height: 28px; padding: 0 12px; margin: 0; border: 0; border-radius: 14px;
  background: #fff; color: #b91c1c; font-weight: 700; font-size: 13px;
}
.viewing-stop:hover { background: #fee2e2; }
.viewing-stop:focus-visible { outline: 3px solid #fca5a5; outline-offset: 2px; }
@media (max-width: 480px) {
  .root[data-open="true"] .corner { position: fixed; top: 76px; right: 12px; left: 12px; bottom: auto; }
  .root[data-open="true"] .viewing-text { flex: 1; min-width: 0; }
  /* The pill sits over the top of the transcript: the first message starts below it. */
  .root[data-open="true"]:has(.corner:not(:empty)) .log { padding-top: 62px; }
}
.viewing-what {
  flex: none; height: 28px; padding: 0 8px; margin: 0; border: 0; border-radius: 14px;
  background: transparent; color: #cbd5e1; font-size: 12.5px; text-decoration: underline;
}
.viewing-what:hover { color: #fff; }
.viewing-what:focus-visible { outline: 2px solid #93c5fd; outline-offset: 1px; }
@media (prefers-reduced-motion: reduce) {
  .viewing, .viewing-dot { animation: none; }
}

/* ---- "what stays hidden": drawn over the visitor's own page ------------ */
.overlay:empty { display: none; }
.hp { position: fixed; inset: 0; pointer-events: none; z-index: 1; }
.hp-boxes { position: absolute; inset: 0; overflow: hidden; }
.hp-box { position: absolute; box-sizing: border-box; border-radius: 3px; }
.hp-blocked {
  background: repeating-linear-gradient(135deg, rgba(100, 116, 139, .92) 0 8px, rgba(71, 85, 105, .92) 8px 16px);
  outline: 2px solid #334155;
}
.hp-masked {
  background: rgba(245, 158, 11, .12); border: 2px dotted #b45309;
  color: #92400e; font: 600 12px/1 system-ui, sans-serif; display: flex; align-items: center; padding: 0 6px; overflow: hidden;
}
.hp-bar {
  position: absolute; left: 50%; top: 12px; transform: translateX(-50%);
  display: flex; align-items: center; gap: 12px; max-width: min(720px, calc(100vw - 24px));
  padding: 10px 10px 10px 16px; border-radius: 12px; pointer-events: auto;
  background: #1f2430; color: #fff; box-shadow: 0 10px 30px rgba(17, 24, 39, .35);
}
.hp-text { margin: 0; font-size: 13px; line-height: 1.4; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; }
.hp-text strong { font-weight: 650; }
.hp-legend { display: inline-flex; gap: 10px; }
.hp-key { display: inline-flex; align-items: center; gap: 5px; color: #cbd5e1; }
.hp-key::before { content: ""; width: 14px; height: 10px; border-radius: 2px; }
.hp-key-blocked::before { background: #64748b; outline: 1px solid #94a3b8; }
.hp-key-masked::before { border: 2px dotted #f59e0b; }
.hp-count { color: #e2e8f0; }
.hp-close {
  flex: none; height: 30px; padding: 0 14px; border: 0; border-radius: 15px;
  background: #fff; color: #1f2430; font-weight: 650; font-size: 13px;
}
.hp-close:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.consent-preview {
  margin: 6px 0 0 40px; padding: 0; border: 0; background: none;
  color: #92400e; font-size: 13px; text-decoration: underline; cursor: pointer;
}
.consent-preview:focus-visible { outline: 2px solid #f59e0b; outline-offset: 2px; border-radius: 2px; }

/* ---- small screens: the panel takes the whole screen ----------------- */
@media (max-width: 480px) {
  .panel {
    position: fixed; inset: 0; width: auto; height: auto; min-height: 0;
    border-radius: 0; border: 0;
  }
  .root[data-open="true"] .launcher { display: none; }
  .move { display: none; }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .badge, .teaser { animation: none; }
  .launcher, .launcher svg { transition: none; }
  .dot { animation: none !important; }
}
@media print { .root { display: none; } }
`;
