// Comparison recorder: @rrweb/record as most integrations run it (default
// sampling unless told otherwise). Every event is stringified; with a channel
// name it is sent as JSON over a BroadcastChannel to the player page (same
// origin, same browser context), without one only its size is counted.
import { record } from '@rrweb/record';

const R = (window.__rr = { count: 0, bytes: 0, stop: null, record });
R.start = (options = {}, channel = 'rr-bench') => {
  const ch = channel ? new BroadcastChannel(channel) : null;
  R.stop = record({
    ...options,
    emit(e) {
      R.count++;
      const json = JSON.stringify(e);
      R.bytes += json.length;
      if (ch) ch.postMessage(json);
    },
  });
};
