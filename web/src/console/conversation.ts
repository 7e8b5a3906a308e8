// A conversation's place in the team's workflow, above the transcript: its
// state (open, assigned, closed), "Assign to me", handing it over, closing and
// reopening. The server decides; this bar only asks and shows what it said.

import type { Conversation } from '../protocol/Conversation';
import { h, setAttr, setText } from './dom';
import type { Live } from './live';

/** The inbox views (SPEC: `inbox-view`'s `data-view`). */
export type InboxView = 'mine' | 'unassigned' | 'open' | 'closed';

export const VIEWS: { view: InboxView; label: string; title: string; empty: string }[] = [
  { view: 'mine', label: 'Mine', title: 'Open conversations assigned to you', empty: 'No open conversation is assigned to you.' },
  { view: 'unassigned', label: 'Unassigned', title: 'Open conversations nobody has taken', empty: 'Every open conversation has someone.' },
  { view: 'open', label: 'Open', title: 'All open conversations', empty: 'No open conversation.' },
  { view: 'closed', label: 'Closed', title: 'Closed conversations', empty: 'No closed conversation.' },
];

/** A list entry's short word on who has the conversation ('' when nobody and open). */
export function ownerText(c: Conversation, meId: string): string {
  if (c.state === 'closed') return 'Closed';
  if (c.state === 'assigned') return c.assignee_id === meId ? 'You' : c.assignee_name || 'Teammate';
  return '';
}

/** Whether a conversation belongs in a view. */
export function inView(view: InboxView, c: Conversation, meId: string): boolean {
  switch (view) {
    case 'mine': return c.state === 'assigned' && c.assignee_id === meId;
    case 'unassigned': return c.state === 'open';
    case 'open': return c.state !== 'closed';
    case 'closed': return c.state === 'closed';
  }
}

/** How the state reads, for the consultant looking at it. */
export function stateText(c: Conversation, meId: string): string {
  const who = c.assignee_id === meId ? 'you' : c.assignee_name || 'a teammate';
  switch (c.state) {
    case 'open': return 'Open · unassigned';
    case 'assigned': return `Assigned to ${who}`;
    case 'closed': return c.assignee_id ? `Closed · was with ${who}` : 'Closed';
  }
}

export class ConversationBar {
  readonly el: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly assign: HTMLButtonElement;
  private readonly handover: HTMLSelectElement;
  private readonly close: HTMLButtonElement;
  private readonly reopen: HTMLButtonElement;
  private drawnTeam = '';

  constructor(
    private readonly live: Live,
    private readonly visitorId: string,
  ) {
    this.badge = h('span', { class: 'conv-state', 'data-testid': 'conversation-state', 'data-state': 'open', role: 'status' });
    this.assign = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'conversation-assign',
      onclick: () => live.assign(visitorId, live.me.id),
    }, 'Assign to me');
    this.handover = h('select', {
      class: 'conv-handover', 'data-testid': 'conversation-handover', 'aria-label': 'Hand over to a teammate',
      onchange: () => {
        const v = this.handover.value;
        this.handover.value = '';
        if (v) live.assign(visitorId, v === '-' ? null : v);
      },
    });
    this.close = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'conversation-close',
      title: 'Done: it leaves the open views until the visitor writes again',
      onclick: () => live.setClosed(visitorId, true),
    }, 'Close');
    this.reopen = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'conversation-reopen',
      onclick: () => live.setClosed(visitorId, false),
    }, 'Reopen');
    this.el = h('div', { class: 'conv-bar', role: 'toolbar', 'aria-label': 'Conversation' },
      this.badge, h('span', { class: 'conv-actions' }, this.assign, this.handover, this.close, this.reopen));
    this.draw();
    // Accounts added since the console connected can take it too.
    void live.refreshTeam();
  }

  draw(): void {
    const c = this.live.conversation(this.visitorId);
    const me = this.live.me.id;
    setAttr(this.badge, 'data-state', c.state);
    setText(this.badge, stateText(c, me));
    // Already theirs (a closed one of theirs has Reopen).
    this.assign.hidden = c.assignee_id === me;
    this.close.hidden = c.state === 'closed';
    this.reopen.hidden = c.state !== 'closed';
    // The teammates it can go to: anyone but who has it; "nobody" if someone has it.
    const options = this.live.team.filter((t) => t.id !== c.assignee_id);
    const key = JSON.stringify([options, c.assignee_id]);
    if (key !== this.drawnTeam) {
      this.drawnTeam = key;
      const items = [
        h('option', { value: '' }, 'Hand over…'),
        ...options.map((t) => h('option', { value: t.id }, t.id === me ? `${t.name} (you)` : t.name)),
      ];
      if (c.assignee_id) items.push(h('option', { value: '-' }, 'Nobody (unassign)'));
      this.handover.replaceChildren(...items);
      this.handover.value = '';
    }
    this.handover.hidden = options.length === 0 && !c.assignee_id;
  }
}
