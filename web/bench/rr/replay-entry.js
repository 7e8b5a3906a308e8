// Comparison player: @rrweb/replay's Replayer, exposed for pages the bench
// drives, with the product's frame codec to read screen frames.
import { Replayer } from '@rrweb/replay';
import { decodeEvents, newCodecState } from '../../src/shared/screencodec';

window.__rrReplay = { Replayer, decodeEvents, newCodecState };
