// Saved replies: typing "/" at the start of the reply box lists them (filtered
// by what follows), ↑/↓ choose, Enter or Tab puts the text in the box to edit
// and send. The team keeps one list, edited on the Saved replies page.

import { api, type CannedReply } from './api';
import { errorText, field } from './admin';
import { h, replaceChildren, setAttr } from './dom';
import { toast } from './toast';

/** The list as last fetched (shared by every reply box; fetched again on each use). */
let cache: CannedReply[] = [];
let loaded = false;
let loading: Promise<void> | null = null;

function refresh(): Promise<void> {
  loading ??= api.canned().then((list) => {
    cache = list;
    loaded = true;
  }, () => {
    // Offline or refused: the list last fetched stays.
  }).finally(() => {
    loading = null;
  });
  return loading;
}

/** "/ref" at the start of the box, with nothing else: the query "ref". */
function queryOf(text: string): string | null {
  const m = /^\/([\p{L}\p{N}_-]*)$/u.exec(text);
  return m ? m[1].toLowerCase() : null;
}

/** Shortcuts starting with the query first, then any whose shortcut or text has it. */
function matching(q: string): CannedReply[] {
  const starts = cache.filter((c) => c.shortcut.startsWith(q));
  const has = cache.filter((c) => !c.shortcut.startsWith(q) && (c.shortcut.includes(q) || c.body.toLowerCase().includes(q)));
  return [...starts, ...has].slice(0, 8);
}

/** The list above a reply box. */
export class CannedPicker {
  readonly el: HTMLElement;
  private readonly list: HTMLUListElement;
  private shown: CannedReply[] = [];
  private index = 0;
  private query: string | null = null;

  constructor(private readonly input: HTMLTextAreaElement, private readonly onInsert: () => void) {
    this.list = h('ul', { class: 'canned-list', role: 'listbox', id: `canned-${Math.random().toString(36).slice(2)}`, 'aria-label': 'Saved replies' });
    this.el = h('div', { class: 'canned', 'data-testid': 'canned-replies', hidden: true },
      this.list,
      h('div', { class: 'canned-foot' },
        h('span', { class: 'muted' }, '↑↓ choose · Enter inserts · Esc closes'),
        h('a', { href: '#/replies', 'data-testid': 'canned-manage' }, 'Manage saved replies'),
      ),
    );
  }

  /** The box's text changed: show, filter or hide the list. */
  update(): void {
    const q = queryOf(this.input.value);
    if (q === null) return this.hide();
    const first = this.query === null;
    this.query = q;
    this.draw();
    // Fetched again each time the list opens: replies a teammate saved since show up.
    if (first) void refresh().then(() => this.query !== null && this.draw());
  }

  /** Handles list keys while it shows; true if the key was its. */
  key(e: KeyboardEvent): boolean {
    if (this.el.hidden) return false;
    if (e.key === 'Escape') {
      this.hide();
      return true;
    }
    if (!this.shown.length) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      this.index = (this.index + (e.key === 'ArrowDown' ? 1 : this.shown.length - 1)) % this.shown.length;
      this.draw();
      return true;
    }
    if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      this.insert(this.shown[this.index]);
      return true;
    }
    return false;
  }

  hide(): void {
    this.query = null;
    this.el.hidden = true;
    setAttr(this.input, 'aria-expanded', 'false');
    setAttr(this.input, 'aria-activedescendant', null);
  }

  private insert(c: CannedReply): void {
    this.input.value = c.body;
    this.hide();
    this.input.focus();
    this.input.setSelectionRange(c.body.length, c.body.length);
    this.onInsert();
  }

  private draw(): void {
    const q = this.query ?? '';
    const shown = matching(q);
    if (shown.map((c) => c.id).join() !== this.shown.map((c) => c.id).join()) this.index = 0;
    this.shown = shown;
    setAttr(this.input, 'aria-controls', this.list.id);
    setAttr(this.input, 'aria-expanded', 'true');
    if (!shown.length) {
      replaceChildren(this.list, h('li', { class: 'canned-empty' },
        !loaded ? 'Loading saved replies…' : cache.length ? `No saved reply matches /${q}.` : 'The team has no saved replies yet.'));
      setAttr(this.input, 'aria-activedescendant', null);
    } else {
      replaceChildren(this.list, shown.map((c, i) => h('li', {
        id: `${this.list.id}-${i}`, class: 'canned-item', role: 'option', 'aria-selected': String(i === this.index),
        'data-testid': 'canned-reply', 'data-shortcut': c.shortcut,
        onmousedown: (e: MouseEvent) => e.preventDefault(), // keep the focus in the box
        onclick: () => this.insert(c),
      }, h('span', { class: 'canned-key' }, `/${c.shortcut}`), h('span', { class: 'canned-text' }, c.body))));
      setAttr(this.input, 'aria-activedescendant', `${this.list.id}-${this.index}`);
    }
    this.el.hidden = false;
  }
}

/** The Saved replies page (#/replies): add, change, delete. */
export function renderCanned(root: HTMLElement): void {
  const list = h('div', { class: 'canned-page-list', 'data-testid': 'canned-page-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const shortcut = h('input', { id: 'canned-shortcut', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'canned-shortcut', placeholder: 'refund' });
  const body = h('textarea', { id: 'canned-body', required: true, rows: '4', 'data-testid': 'canned-body', placeholder: 'Refunds reach your account within 5 working days.' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'canned-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'canned-save' }, 'Save reply');
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true }, 'Cancel');
  const heading = h('h2', null, 'Add a saved reply');
  let editing: string | null = null;
  const edit = (c: CannedReply | null) => {
    editing = c?.id ?? null;
    shortcut.value = c?.shortcut ?? '';
    body.value = c?.body ?? '';
    heading.textContent = c ? `Change /${c.shortcut}` : 'Add a saved reply';
    cancel.hidden = !c;
    error.hidden = true;
    if (c) shortcut.focus();
  };
  cancel.addEventListener('click', () => edit(null));

  const draw = () => {
    replaceChildren(list, cache.length ? cache.map((c) => h('div', { class: 'canned-row', 'data-testid': 'canned-item', 'data-shortcut': c.shortcut },
      h('span', { class: 'canned-key' }, `/${c.shortcut}`),
      h('span', { class: 'canned-text' }, c.body),
      h('span', { class: 'canned-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'canned-edit', onclick: () => edit(c) }, 'Edit'),
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-sm btn-danger-text', 'data-testid': 'canned-delete',
          onclick: () => api.removeCanned(c.id).then(() => {
            toast(`/${c.shortcut} deleted.`, 'ok');
            if (editing === c.id) edit(null);
            return load();
          }, (e) => toast(errorText(e))),
        }, 'Delete'),
      ),
    )) : h('p', { class: 'muted' }, 'No saved replies yet. Add the answers your team gives most.'));
  };
  const load = () => refresh().then(draw);

  const form = h('form', { class: 'panel form', 'data-testid': 'canned-form', autocomplete: 'off' },
    heading,
    field('Shortcut', shortcut, 'Type / and this in a reply box. Letters, digits, - and _.'),
    field('Text', body),
    error,
    h('div', { class: 'form-actions' }, submit, cancel),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit.disabled = true;
    // The server checks both fields and says what is wrong.
    api.saveCanned(editing, shortcut.value, body.value).then((saved) => {
      toast(`/${saved.shortcut} saved.`, 'ok');
      edit(null);
      return load();
    }, (err) => {
      error.textContent = errorText(err);
      error.hidden = false;
    }).finally(() => {
      submit.disabled = false;
    });
  });
  root.replaceChildren(h('div', { class: 'page', 'data-testid': 'canned-page' },
    h('header', { class: 'page-head' },
      h('h1', null, 'Saved replies'),
      h('p', { class: 'muted' }, 'Answers the whole team inserts by typing / in a reply box.'),
    ),
    list,
    form,
  ));
  void load();
}
