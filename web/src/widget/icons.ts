// Inline SVG icons (no external resources), drawn with currentColor.

const svg = (body: string, cls = '') =>
  `<svg ${cls ? `class="${cls}" ` : ''}viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${body}</svg>`;

export const ICON_CHAT = (cls = '') =>
  svg('<path d="M21 12a8.5 8.5 0 0 1-12.3 7.6L3 21l1.5-5.2A8.5 8.5 0 1 1 21 12z"/><path d="M8.5 12h.01M12 12h.01M15.5 12h.01" stroke-width="2.6"/>', cls);
export const ICON_CLOSE = (cls = '') => svg('<path d="M18 6 6 18M6 6l12 12"/>', cls);
export const ICON_MINIMIZE = () => svg('<path d="m6 9 6 6 6-6"/>');
export const ICON_SEND = () => svg('<path d="M22 2 11 13"/><path d="M22 2 15 22l-4-9-9-4 20-7z"/>');
