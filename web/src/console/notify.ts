// Never miss a visitor: desktop notifications (the Notification API, asked
// for only when the consultant turns them on) and an optional sound, for a new
// conversation and for a new message in a dialog that is not on screen. The
// choice is kept per consultant in this browser (localStorage): permission to
// notify is the browser's, so a setting elsewhere could not grant it here.

import { previewText } from '../shared/attachment';
import type { ChatMessage } from '../protocol/ChatMessage';
import { h, icon } from './dom';
import { visitorName } from './format';

interface Prefs {
  desktop: boolean;
  sound: boolean;
}

export class Notifier {
  readonly el: HTMLElement;
  private prefs: Prefs;
  private audio: AudioContext | null = null;
  private readonly key: string;
  private readonly status: HTMLElement;

  constructor(userId: string, private readonly openDialog: (visitorId: string) => void) {
    this.key = `chatcast:notify:${userId}`;
    this.prefs = this.load();
    const supported = typeof Notification !== 'undefined';
    if (this.prefs.desktop && (!supported || Notification.permission !== 'granted')) this.prefs.desktop = false;
    const desktop = h('input', { type: 'checkbox', 'data-testid': 'notify-desktop', disabled: !supported }) as HTMLInputElement;
    desktop.checked = this.prefs.desktop;
    const sound = h('input', { type: 'checkbox', 'data-testid': 'notify-sound' }) as HTMLInputElement;
    sound.checked = this.prefs.sound;
    this.status = h('p', { class: 'help', role: 'status', 'data-testid': 'notify-status' },
      supported ? '' : 'This browser cannot show desktop notifications.');
    desktop.addEventListener('change', () => void this.setDesktop(desktop));
    sound.addEventListener('change', () => {
      this.prefs.sound = sound.checked;
      if (sound.checked) this.beep(); // a sample, and the click lets the page play sound
      this.save();
    });
    this.el = h('details', { class: 'notify', 'data-testid': 'notify-settings' },
      h('summary', { title: 'Notifications', 'aria-label': 'Notifications' }, bell()),
      h('div', { class: 'notify-menu' },
        h('strong', null, 'Tell me about new messages'),
        h('label', null, desktop, ' Desktop notifications'),
        h('label', null, sound, ' Play a sound'),
        h('p', { class: 'help' }, 'For a new conversation, and for messages in conversations not on screen.'),
        this.status,
      ),
    );
  }

  /** A visitor wrote in a dialog that is not on screen; `first`: it starts the conversation. */
  visitorMessage(m: ChatMessage, first: boolean): void {
    if (this.prefs.sound) this.beep();
    if (!this.prefs.desktop || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const who = visitorName(m.visitor_id);
    try {
      const n = new Notification(first ? `New conversation: ${who}` : who, {
        body: previewText(m).length > 140 ? `${previewText(m).slice(0, 139)}…` : previewText(m),
        tag: m.visitor_id, // one per dialog: a newer message replaces it
      });
      n.onclick = () => {
        window.focus();
        this.openDialog(m.visitor_id);
        n.close();
      };
    } catch {
      // Some browsers allow notifications from a service worker only.
    }
  }

  private async setDesktop(box: HTMLInputElement): Promise<void> {
    if (!box.checked) {
      this.prefs.desktop = false;
      this.save();
      this.status.textContent = '';
      return;
    }
    const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    this.prefs.desktop = permission === 'granted';
    box.checked = this.prefs.desktop;
    this.status.textContent = this.prefs.desktop
      ? ''
      : 'The browser blocks notifications for this page: allow them in its site settings, then turn this on again.';
    this.save();
  }

  private beep(): void {
    try {
      this.audio ??= new AudioContext();
      const ctx = this.audio;
      void ctx.resume();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.3);
    } catch {
      // No audio here: the title badge still counts.
    }
  }

  private load(): Prefs {
    try {
      const p = JSON.parse(localStorage.getItem(this.key) ?? '{}') as Partial<Prefs>;
      return { desktop: p.desktop === true, sound: p.sound === true };
    } catch {
      return { desktop: false, sound: false };
    }
  }

  private save(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.prefs));
    } catch {
      // Private mode: the choice lasts for this page only.
    }
  }
}

function bell(): SVGSVGElement {
  const svg = icon('M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0');
  svg.firstElementChild?.setAttribute('stroke-width', '2');
  return svg;
}
