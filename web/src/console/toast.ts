// Short notices in a corner: server errors, confirmations.

import { h } from './dom';

let host: HTMLElement | null = null;

function container(): HTMLElement {
  if (!host || !host.isConnected) {
    host = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(host);
  }
  return host;
}

/** Shows a notice; errors stay a bit longer. The same text is not stacked twice. */
export function toast(message: string, kind: 'error' | 'info' | 'ok' = 'error'): void {
  const c = container();
  for (const el of Array.from(c.children) as HTMLElement[]) {
    if (el.dataset.text === message) el.remove();
  }
  const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: `toast toast-${kind}`, 'data-testid': 'toast', 'data-kind': kind }, h('span', null, message), close);
  el.dataset.text = message;
  const remove = () => {
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 200);
  };
  close.addEventListener('click', remove);
  c.appendChild(el);
  while (c.children.length > 4) c.firstElementChild?.remove();
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}
