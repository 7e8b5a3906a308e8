// The entry of `/lang/ru.js`: hands the Russian words to the widget that loaded it.

import { LANG_SCRIPT_PROP } from './pack';
import { RU } from './ru';

const script = document.currentScript;
if (script) (script as unknown as Record<string, unknown>)[LANG_SCRIPT_PROP] = RU;
