// A language pack is a script of its own (`/lang/ru.js`), loaded only by
// widgets of a site that chose that language: it puts its words on its
// <script> element under this name (see shared/load-script.ts).

/** The property a pack sets on its own script element. */
export const LANG_SCRIPT_PROP = '__chatcastLanguage';
