// Web storage that never throws: some browsers refuse localStorage (privacy
// modes, sandboxed iframes, full quota). Then the widget keeps the values in
// memory for the life of the page, which is the best it can do.

export class Store {
  private readonly area: Storage | null;
  private readonly memory = new Map<string, string>();

  constructor(
    kind: 'localStorage' | 'sessionStorage',
    /** Prefix of every key, e.g. `chatcast:KEY:`. */
    readonly prefix: string,
  ) {
    this.area = openArea(kind);
  }

  /** The full key of `name`, as `storage` events report it. */
  key(name: string): string {
    return this.prefix + name;
  }

  get(name: string): string | null {
    if (this.area) {
      try {
        return this.area.getItem(this.key(name));
      } catch {
        // fall through to memory
      }
    }
    return this.memory.get(name) ?? null;
  }

  set(name: string, value: string): void {
    this.memory.set(name, value);
    try {
      this.area?.setItem(this.key(name), value);
    } catch {
      // quota or policy: the in-memory copy is all we have
    }
  }

  remove(name: string): void {
    this.memory.delete(name);
    try {
      this.area?.removeItem(this.key(name));
    } catch {
      // ignore
    }
  }

  /** Whether a `storage` event concerns this store's `name`. */
  isEvent(ev: StorageEvent, name: string): boolean {
    return !!this.area && ev.storageArea === this.area && ev.key === this.key(name);
  }

  /** Whether a `storage` event cleared the whole area (`localStorage.clear()`). */
  isClear(ev: StorageEvent): boolean {
    return !!this.area && ev.storageArea === this.area && ev.key === null;
  }
}

function openArea(kind: 'localStorage' | 'sessionStorage'): Storage | null {
  try {
    const area = window[kind];
    const probe = '__chatcast_probe__';
    area.setItem(probe, '1');
    area.removeItem(probe);
    return area;
  } catch {
    return null;
  }
}
