// Times, URLs and labels as the console shows them.

let clockOffset = 0; // server clock minus ours, estimated from live frames

/** Learns the server clock from a time the server stamped just now (a live message). */
export function observeServerTime(at: number): void {
  const est = at - Date.now();
  // A frame arrives after it was stamped, so estimates are never too high
  // by more than the network delay; take the newest one within reason.
  if (Math.abs(est) < 365 * 24 * 3600_000) clockOffset = est;
}

/** "Now" on the server's clock. */
export function serverNow(): number {
  return Date.now() + clockOffset;
}

/** A duration as people say it: "just now", "5 min", "2 h 10 min", "3 d". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 45) return s < 10 ? 'just now' : `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return `${d} d`;
}

/** "5 min ago" / "just now". */
export function ago(at: number): string {
  const d = duration(serverNow() - at);
  return d === 'just now' ? d : `${d} ago`;
}

/** Online since: "online 5 min" (or "online just now"). */
export function onlineFor(since: number): string {
  const d = duration(serverNow() - since);
  return d === 'just now' ? 'online just now' : `online ${d}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Clock time of a server timestamp, in local time: "14:03". */
export function clock(at: number): string {
  return timeFmt.format(new Date(at - clockOffset));
}

/** Full date and time, for tooltips. */
export function fullDate(at: number): string {
  return fullFmt.format(new Date(at - clockOffset));
}

/** A day key for grouping messages: "2025-11-23" in local time. */
export function dayKey(at: number): string {
  const d = new Date(at - clockOffset);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, 12 November", or with the year when it is not this year. */
export function dayLabel(at: number): string {
  const d = new Date(at - clockOffset);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(at) === dayKey(today.getTime() + clockOffset)) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

/** A page URL as a short label: path + query + hash, or the URL itself if it does not parse. */
export function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return (u.pathname || '/') + u.search + u.hash;
  } catch {
    return url;
  }
}

/** The URL's host. */
export function urlHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** Only http(s) URLs become links. */
export function safeHref(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** A short, stable label for an anonymous visitor: "Visitor 3F2A". */
export function visitorCode(id: string): string {
  const raw = id.replace(/^v_/, '').replace(/[^a-zA-Z0-9]/g, '');
  return (raw.slice(-4) || id).toUpperCase();
}

const ADJECTIVES = [
  'Amber', 'Azure', 'Bold', 'Brave', 'Bright', 'Calm', 'Clever', 'Coral', 'Crimson', 'Curious', 'Dapper', 'Eager',
  'Gentle', 'Golden', 'Happy', 'Honest', 'Indigo', 'Ivory', 'Jade', 'Jolly', 'Kind', 'Lively', 'Lucky', 'Lunar',
  'Merry', 'Mint', 'Misty', 'Noble', 'Olive', 'Patient', 'Plum', 'Polar', 'Quick', 'Quiet', 'Rapid', 'Rosy',
  'Ruby', 'Sage', 'Scarlet', 'Silver', 'Sleek', 'Solar', 'Sunny', 'Swift', 'Teal', 'Tidy', 'Violet', 'Witty',
];
const ANIMALS = [
  'Badger', 'Bear', 'Beaver', 'Bison', 'Crane', 'Dolphin', 'Eagle', 'Falcon', 'Ferret', 'Finch', 'Fox', 'Gecko',
  'Heron', 'Hare', 'Ibis', 'Jaguar', 'Koala', 'Lark', 'Lemur', 'Lion', 'Lynx', 'Marten', 'Moose', 'Newt',
  'Ocelot', 'Orca', 'Otter', 'Owl', 'Panda', 'Parrot', 'Pelican', 'Puffin', 'Quail', 'Raven', 'Robin', 'Salmon',
  'Seal', 'Sparrow', 'Stork', 'Swan', 'Tiger', 'Toucan', 'Turtle', 'Walrus', 'Whale', 'Wolf', 'Wren', 'Yak',
];

function hash32(id: string, seed: number): number {
  let x = seed;
  for (let i = 0; i < id.length; i++) {
    x ^= id.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return x >>> 0;
}

/**
 * A stable, readable name for an anonymous visitor ("Amber Fox"), derived
 * from the id: the same on every console and after every reload, and one of
 * 2,304 so that visitors online together rarely share one.
 */
export function visitorName(id: string): string {
  return `${ADJECTIVES[hash32(id, 2166136261) % ADJECTIVES.length]} ${ANIMALS[hash32(id, 84696351) % ANIMALS.length]}`;
}

/** The initials of a visitor's name, for the avatar. */
export function visitorInitials(id: string): string {
  return visitorName(id).split(' ').map((w) => w[0]).join('');
}

/** A hue (0–359) derived from an id, for the visitor's avatar. */
export function hueOf(id: string): number {
  let x = 2166136261;
  for (let i = 0; i < id.length; i++) {
    x ^= id.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return (x >>> 0) % 360;
}

/** Compares message ids: numeric when both are numbers, else as text. */
export function cmpId(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Characters as the server counts them (Unicode scalar values). */
export function charCount(s: string): number {
  return Array.from(s).length;
}
