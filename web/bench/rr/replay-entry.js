// Comparison player: @rrweb/replay's Replayer, exposed for pages the bench drives.
import { Replayer } from '@rrweb/replay';

window.__rrReplay = { Replayer };
