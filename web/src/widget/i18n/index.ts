// The widget's language. English is built in; another language's words come
// in a pack of their own (`/lang/<code>.js`, see pack.ts), loaded only for a
// site that chose it, so English-speaking sites never download them.

import type { ChatMessage } from '../../protocol/ChatMessage';
import { loadScript } from '../../shared/load-script';
import { EN, type Strings } from './en';
import { LANG_SCRIPT_PROP } from './pack';

/** The languages with a pack (the server refuses others). */
const PACKS = new Set(['ru']);

/** Content hash of the packs, set by build.mjs: a new build never meets a cached old pack. */
declare const CHATCAST_LANG_HASH: string | undefined;

/** The words in force. Read it when drawing (it changes with `useLanguage`). */
export let T: Strings = EN;

/**
 * Switches to `lang`, loading its pack from the widget's server (`base`: the
 * chat server's base URL) if needed. Resolves true if the words changed; a pack that
 * cannot be loaded leaves English (with a console warning).
 */
export async function useLanguage(lang: string | null | undefined, base: string, nonce: string | null): Promise<boolean> {
  let next: Strings = EN;
  if (lang && lang !== 'en' && PACKS.has(lang)) {
    const url = new URL(`lang/${lang}.js`, base);
    if (typeof CHATCAST_LANG_HASH === 'string' && CHATCAST_LANG_HASH) url.search = '?v=' + CHATCAST_LANG_HASH;
    try {
      const pack = (await loadScript(url.href, nonce, LANG_SCRIPT_PROP, 'language')) as Strings;
      if (pack?.lang === lang) next = pack;
    } catch (e) {
      console.warn(`[chatcast] the ${lang} words could not be loaded; the chat stays in English:`, e);
    }
  }
  if (next === T) return false;
  T = next;
  return true;
}

/** A message's text as the visitor reads it: system lines in the visitor's words and language. */
export function visitorText(m: Pick<ChatMessage, 'author' | 'kind' | 'author_name' | 'body' | 'receipt'>): string {
  if (m.author !== 'system' || !m.kind) return m.body;
  if (m.kind === 'receipt') return m.receipt ? T.receipt(m.author_name || T.support, m.receipt) : m.body;
  return T.line[m.kind](m.author_name || T.support);
}
