// The visitor's outbox: every message typed in this browser that the server has
// not acknowledged yet, in order. It lives in localStorage, so a message
// survives a reload, a navigation or a lost connection, and is shared by the
// visitor's tabs. Resending is safe: the server de-duplicates by client_id.

import type { Attachment } from '../protocol/Attachment';
import type { Store } from './storage';

export interface OutboxItem {
  client_id: string;
  body: string;
  /** When it was typed (the visitor's clock), for display until the server stores it. */
  at: number;
  /** A file uploaded already, sent with this message. */
  attachment?: Attachment;
}

const NAME = 'outbox';

function isAttachment(a: unknown): a is Attachment {
  const x = a as Attachment | null;
  return !!x && typeof x.id === 'string' && typeof x.name === 'string' && typeof x.content_type === 'string' && typeof x.size === 'number';
}

export class Outbox {
  constructor(private readonly store: Store) {}

  /** Everything still unacknowledged, oldest first. Read fresh every time: other tabs write too. */
  all(): OutboxItem[] {
    const raw = this.store.get(NAME);
    if (!raw) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(
        (x): x is OutboxItem =>
          !!x && typeof x === 'object' && typeof x.client_id === 'string' && typeof x.body === 'string',
      ).map((x) => ({
        client_id: x.client_id,
        body: x.body,
        at: typeof x.at === 'number' ? x.at : Date.now(),
        attachment: isAttachment(x.attachment) ? x.attachment : undefined,
      }));
    } catch {
      return [];
    }
  }

  add(item: OutboxItem): void {
    const items = this.all();
    if (!items.some((x) => x.client_id === item.client_id)) items.push(item);
    this.save(items);
  }

  /** Removes one item; returns whether it was there. */
  remove(clientId: string): boolean {
    const items = this.all();
    const rest = items.filter((x) => x.client_id !== clientId);
    if (rest.length === items.length) return false;
    this.save(rest);
    return true;
  }

  has(clientId: string): boolean {
    return this.all().some((x) => x.client_id === clientId);
  }

  /** Whether a `storage` event from another tab changed the outbox. */
  isEvent(ev: StorageEvent): boolean {
    return this.store.isEvent(ev, NAME) || this.store.isClear(ev);
  }

  private save(items: OutboxItem[]): void {
    if (items.length) this.store.set(NAME, JSON.stringify(items));
    else this.store.remove(NAME);
  }
}
