// The widget's language: English until the server says which one the site
// chose (cached per site for the next page, so a page does not start in the wrong one).

import type { ChatMessage } from '../../protocol/ChatMessage';
import type { WidgetLanguage } from '../../protocol/WidgetLanguage';
import { EN, type Strings } from './en';
import { RU } from './ru';

const LANGUAGES: Record<WidgetLanguage, Strings> = { en: EN, ru: RU };

/** The words in force. Read it when drawing (it changes with `setLanguage`). */
export let T: Strings = EN;

/** Switches the words; false if it was this language already. */
export function setLanguage(lang: string | null | undefined): boolean {
  const next = LANGUAGES[lang as WidgetLanguage] ?? EN;
  if (next === T) return false;
  T = next;
  return true;
}

/** A message's text as the visitor reads it: system lines in the visitor's words and language. */
export function visitorText(m: Pick<ChatMessage, 'author' | 'kind' | 'author_name' | 'body'>): string {
  if (m.author !== 'system' || !m.kind || m.kind === 'receipt') return m.body;
  return T.line[m.kind](m.author_name || T.support);
}
