// The widget's words in English: every text a visitor reads or hears, in one
// place. Another language is a file of the same shape (ru.ts); the server
// sends which one a site chose (Sites page → Widget).

import type { MessageKind } from '../../protocol/MessageKind';
import type { ReceiptFacts } from '../../protocol/ReceiptFacts';

/** "45 s", "2 min 14 s", "1 h 5 min". */
function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export const EN = {
  lang: 'en',
  title: 'Chat with us',
  status: {
    connecting: 'Connecting…',
    open: 'We reply within minutes',
    away: 'Nobody is online right now',
    reconnecting: 'Reconnecting…',
    refused: 'Chat is unavailable',
  },
  minimize: 'Minimize chat',
  minimizeTitle: 'Minimize',
  move: 'Move the chat to the other side',
  moveTitle: 'Move to the other side',
  log: 'Chat messages',
  greetingTitle: 'Hi there!',
  greeting: 'Questions about an order, sizes or anything else? Send us a message and we will answer right here.',
  offline: 'Nobody can answer right now. Leave your message and your email address, and we will answer by email.',
  offlineHere: 'Nobody can answer right now. Leave your message, and we will answer here as soon as we are back.',
  unavailable: 'Chat is unavailable right now. Please try again later.',
  inputLabel: 'Your message',
  placeholder: 'Write a message…',
  send: 'Send message',
  sendTitle: 'Send (Enter)',
  brand: 'Powered by Chatcast',
  attach: 'Send a file or image',
  uploading: (name: string) => `Sending ${name}…`,
  uploadFailed: 'The file could not be sent. Please try again.',
  dismissPreview: 'Dismiss preview',
  sending: 'Sending…',
  sent: '✓ Sent',
  notSent: 'Not sent',
  notSentBecause: (why: string) => `Not sent: ${why}`,
  typing: (name: string) => `${name} is typing…`,
  openChat: 'Open chat',
  closeChat: 'Close chat',
  unread: (n: number) => ` (${n} unread ${n === 1 ? 'message' : 'messages'})`,
  support: 'Support',
  newMessage: (name: string, body: string) => `New message from ${name}: ${body}`,
  slowDown: 'Messages are going out more slowly for a moment; yours will follow by itself.',
  paused: 'The chat paused because this page sent too much at once. It reconnects by itself shortly.',
  tooLong: (n: number, max: number) =>
    `Your message is too long (${n.toLocaleString('en')} characters; the limit is ${max.toLocaleString('en')}).`,
  tooLongShort: (max: number) => `Your message is too long (the limit is ${max.toLocaleString('en')} characters).`,
  empty: 'Your message is empty.',
  notSentAtAll: 'The message could not be sent.',
  unavailableNow: 'Chat is unavailable right now.',
  // Contact: the address for answers while nobody is online, and the pre-chat form.
  emailLabel: 'Your email address, for our answer',
  emailPlaceholder: 'you@example.com',
  badEmail: 'Please check the email address: it does not look complete.',
  willAnswerAt: (email: string) => `We will answer at ${email}.`,
  prechatTitle: 'Before we start, please tell us who you are.',
  nameLabel: 'Your name',
  prechatEmailLabel: 'Your email address',
  prechatStart: 'Start the chat',
  needName: 'Please enter your name.',
  // Screen broadcast.
  aConsultant: 'A consultant',
  asksToSee: ' asks to see this tab. Allow?',
  asksAnnounce: (name: string) => `${name} asks to see this tab. Answer in the chat window.`,
  readMore: 'Read more',
  showLess: 'Show less',
  willSee: (name: string) => `${name} will see:`,
  willSeeList: [
    'only this tab of this site, live, while you allow it: the page as it changes, where your pointer is, what you type in ordinary fields, and the other pages of this site you open in this tab;',
  ],
  willNotSee: (name: string) => `${name} will not see:`,
  willNotSeeList: [
    'passwords, payment card fields, or blocks the site marked private;',
    'anything from other tabs, other sites, apps or windows;',
    'your screen or your camera: only a copy of this page is sent, never a picture of your screen.',
  ],
  stopAnyTime: (remember: string) =>
    `You can stop at any moment with the Stop button, which stays on screen while you are being viewed. Your Yes is remembered for this tab only — until you press Stop or close the tab, for at most ${remember} — so support may look again without asking; any other tab asks again.`,
  hours: (h: number) => (h % 24 === 0 && h >= 48 ? `${h / 24} days` : h === 1 ? '1 hour' : `${h} hours`),
  showHidden: 'Show what stays hidden',
  no: 'No',
  yes: 'Yes',
  covered: 'The chat window is covered on this page. Make sure you can see it whole, then answer again.',
  notConnected: 'Not connected right now. Please try again in a moment.',
  tooMuchData: 'Screen sharing ended: this page sent more than the chat server can take.',
  noLongerViewing: (name: string) => `${name} is no longer viewing this tab.`,
  sharingStopped: 'Screen sharing stopped.',
  viewing: (name: string) => `${name} is viewing this tab`,
  viewingTitle: (name: string) => `${name} sees a live copy of this tab. Press Stop to end it.`,
  stop: 'Stop',
  stopLabel: (name: string) => `Stop: ${name} stops seeing this tab`,
  whatHidden: 'What is hidden?',
  whatHiddenTitle: (name: string) => `Show on this page what ${name} does not see`,
  // The "what stays hidden" preview.
  previewLabel: 'What stays hidden',
  previewTitle: (name: string) => `What ${name} will not see`,
  neverSent: 'never sent',
  masked: 'text and values masked',
  close: 'Close',
  nothingHidden: 'Nothing on this page is hidden: passwords, payment fields and private blocks would be.',
  hiddenCount: (fields: number, areas: number) =>
    `${fields} ${fields === 1 ? 'field' : 'fields'} and ${areas} ${areas === 1 ? 'area' : 'areas'} on this page stay hidden.`,
  /** A broadcast's receipt (the server's English wording, word for word). */
  receipt: (who: string, f: ReceiptFacts) => {
    const n = f.pages.length + f.more_pages;
    const where = n === 0 ? '' : n === 1 ? `, on ${f.pages[0]}`
      : `, on ${n} pages: ${f.pages.join(', ')}${f.more_pages ? ` and ${f.more_pages} more` : ''}`;
    return `Receipt of the screen broadcast: ${who} saw this tab for ${duration(f.seconds)}${where}. ` +
      `Stayed hidden from view: ${count(f.fields, 'field')} and ${count(f.areas, 'area')}.`;
  },
  /** System lines of the transcript, as the visitor reads them (`name`: the consultant). */
  line: {
    requested: (name: string) => `${name} asked to see this tab`,
    allowed: (name: string) => `You allowed ${name} to see this tab`,
    started: (name: string) => `${name} is now viewing this tab`,
    stopped: (name: string) => `${name} stopped viewing this tab`,
    no_viewers: () => 'Screen sharing ended: nobody was watching',
    denied: (name: string) => `You declined to show this tab to ${name}`,
    timeout: (name: string) => `${name}'s request to see this tab expired`,
    unsupported: () => 'Screen sharing does not work in this browser',
    weak_connection: () => 'Screen sharing did not start: the connection is too slow',
    offline: () => 'Screen sharing ended: the page went offline',
    stopped_by_visitor: () => 'You stopped screen sharing',
    too_much_data: () => 'Screen sharing ended: the page changed faster than it could be sent',
    emailed: () => 'We sent our answer to your email address too',
  } satisfies Record<Exclude<MessageKind, 'receipt'>, (name: string) => string>,
};

/** The shape every language has. */
export type Strings = typeof EN;
