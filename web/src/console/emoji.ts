// An emoji button in the reply box: a small grid of the emoji support teams
// use most; a click puts one at the caret. (Typing any emoji works anyway.)

import { h, icon } from './dom';

const EMOJI = [
  '🙂', '😊', '😀', '😄', '😉', '😅', '🙏', '👍', '👌', '👋', '🤝', '👏',
  '🎉', '✨', '❤️', '💙', '✅', '❌', '⚠️', 'ℹ️', '❓', '💡', '🔍', '📦',
  '🚚', '💳', '🧾', '📧', '📞', '⏳', '🕒', '📅', '🔒', '🔑', '🛠️', '🤔',
  '😕', '😢', '😮', '🙌', '💪', '☕',
];

export class EmojiPicker {
  readonly button: HTMLButtonElement;
  readonly el: HTMLElement;

  constructor(private readonly input: HTMLTextAreaElement, private readonly onInsert: () => void) {
    this.el = h('div', { class: 'emoji-grid', 'data-testid': 'emoji-picker', role: 'listbox', 'aria-label': 'Emoji', hidden: true },
      ...EMOJI.map((e) => h('button', {
        type: 'button', class: 'emoji', role: 'option', 'data-testid': 'emoji', 'data-emoji': e, 'aria-label': e,
        onmousedown: (ev: MouseEvent) => ev.preventDefault(), // the caret stays in the box
        onclick: () => this.insert(e),
      }, e)));
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.toggle(false);
        this.input.focus();
      }
    });
    this.button = h('button', {
      type: 'button', class: 'btn btn-ghost emoji-btn', 'data-testid': 'emoji-button', 'aria-label': 'Insert an emoji', title: 'Emoji',
      'aria-expanded': 'false', onclick: () => this.toggle(this.el.hidden),
    }, smiley());
  }

  toggle(open: boolean): void {
    this.el.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) (this.el.firstElementChild as HTMLElement | null)?.focus();
  }

  private insert(e: string): void {
    const { selectionStart: a, selectionEnd: b, value } = this.input;
    this.input.value = value.slice(0, a) + e + value.slice(b);
    this.input.focus();
    this.input.setSelectionRange(a + e.length, a + e.length);
    this.toggle(false);
    this.onInsert();
  }
}

/** A drawn smiley: the button must not depend on an emoji font being installed. */
function smiley(): SVGSVGElement {
  return icon('M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM8 14.5c1 1.5 2.4 2.2 4 2.2s3-.7 4-2.2M9 9.5h.01M15 9.5h.01');
}
