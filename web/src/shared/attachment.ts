// A file or image in a dialog, drawn the same way in the widget and the
// console: an image as a thumbnail that opens it, anything else as a link that
// downloads it (the server sends those as downloads; see docs/protocol.md).

import type { Attachment } from '../protocol/Attachment';
import { svgIcon } from './svg';

const IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** `1.2 MB`, `340 KB`, `12 B`. */
export function formatSize(n: number, lang?: string): string {
  const fmt = (v: number) => v.toLocaleString(lang, { maximumFractionDigits: 1 });
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${fmt(n / 1024)} KB`;
  return `${fmt(n / (1024 * 1024))} MB`;
}

/** The link of a file on the chat server whose base URL is `base` (ends with `/`). */
export function fileUrl(base: string, a: Pick<Attachment, 'id'>): string {
  return new URL(`files/${encodeURIComponent(a.id)}`, base).href;
}

/** The element for an attachment, with `testid`; text only, never markup from the file's name. */
export function attachmentElement(a: Attachment, base: string, testid: string, lang?: string): HTMLElement {
  const url = fileUrl(base, a);
  const link = document.createElement('a');
  link.href = url;
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  link.className = 'attachment';
  link.setAttribute('data-testid', testid);
  link.dataset.type = IMAGES.has(a.content_type) ? 'image' : 'file';
  link.title = `${a.name} · ${formatSize(a.size, lang)}`;
  if (IMAGES.has(a.content_type)) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = a.name;
    img.loading = 'lazy';
    img.decoding = 'async';
    img.referrerPolicy = 'no-referrer';
    link.append(img);
  } else {
    link.setAttribute('download', a.name);
    link.append(fileIcon());
    const name = document.createElement('span');
    name.className = 'attachment-name';
    name.textContent = a.name;
    const size = document.createElement('span');
    size.className = 'attachment-size';
    size.textContent = formatSize(a.size, lang);
    link.append(name, size);
  }
  return link;
}

/** A document outline (drawn: no emoji font needed). */
function fileIcon(): SVGSVGElement {
  return svgIcon([['path', 'M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8zM14 3v5h5M9 13h6M9 17h6']], 'attachment-icon');
}

/** A message's text for a one-line preview: a file-only message shows the file's name. */
export function previewText(m: { body: string; attachment?: Pick<Attachment, 'name'> | null }): string {
  if (m.body || !m.attachment) return m.body;
  return `📎 ${m.attachment.name}`;
}

/** What a file input may pick (the server checks the bytes anyway). */
export const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp,application/pdf,.txt,.csv,.log,.md';
