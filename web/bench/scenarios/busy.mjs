// Figure 3: bytes on the wire for a busy page with a consultant watching.
// Every frame the visitor's page sends (framesent: Chromium reports them
// uncompressed) and every frame the screencast window receives are captured
// during `seconds` of scripted activity and compressed offline the way
// permessage-deflate does it on each socket (lib.mjs): the screen socket and
// the console socket keep their context (one raw-deflate stream, Z_SYNC_FLUSH
// per message, tail stripped), the visitor's chat socket compresses each
// message on its own (no context takeover); WebSocket frame headers added.
// The kernel's byte counters of the server's sockets (ss) are read at both
// ends of the window as a check of what really crossed loopback.
import zlib from 'node:zlib';
import { driveActivity } from '../activity.mjs';
import {
  decodeFrames, grant, openConsultant, openVisitor, replicaShows, screenFrames, sleep, startEnv, tcpCounters, tcpDelta, wireBytes,
} from '../lib.mjs';

/** Adds up wireBytes results. */
function plus(a, b) {
  const out = {};
  for (const k of Object.keys(a)) out[k] = a[k] + b[k];
  return out;
}

export async function run(cfg) {
  const env = await startEnv();
  const browser = await cfg.launch();
  const port = Number(new URL(env.server.url).port);
  try {
    const v = await openVisitor(browser, `${env.site.origin}/typical`, { cdp: true, sendLog: true });
    const c = await openConsultant(browser, env.server.url, {});
    const received = [];
    const viewerHandshakes = [];
    c.ctx.on('page', async (p) => {
      p.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(f.payload)));
      try {
        const s = await c.ctx.newCDPSession(p);
        s.on('Network.webSocketHandshakeResponseReceived', (e) => viewerHandshakes.push(e.response.headers));
        await s.send('Network.enable');
      } catch {
        // the window was already closing
      }
    });
    const host = await grant(c, v);
    await replicaShows(host, '#end-marker');
    await sleep(1000);

    const log0 = await v.page.evaluate(() => window.__sendLog.length);
    const sent0 = v.sockets.map((sock) => sock.sent.length);
    const recv0 = received.length;
    const tcp0 = tcpCounters(port);
    const t0 = Date.now();
    await v.page.evaluate(() => window.__page.busy());
    const did = await driveActivity(v.page, cfg.seconds * 1000);
    await v.page.evaluate(() => window.__page.stop());
    const ms = Date.now() - t0;
    await sleep(500);
    const tcp1 = tcpCounters(port);
    // The sockets open during the window: the chat socket and the screen socket.
    const bySocket = v.sockets.map((sock, i) => ({ url: sock.url, sent: sock.sent.slice(sent0[i] ?? 0) }));
    const screenSent = bySocket.filter((x) => x.url.includes('/ws/screen')).flatMap((x) => x.sent);
    const chatSent = bySocket.filter((x) => !x.url.includes('/ws/screen')).flatMap((x) => x.sent);
    // WebSocket.send's own time in the page, per binary frame.
    const sendMs = await v.page.evaluate((n) => window.__sendLog.slice(n).map((x) => x[3]), log0);
    const recv = received.slice(recv0);

    // rrweb events in the visitor's frames, by kind.
    const kinds = {};
    let events = 0;
    for (const { event: e } of decodeFrames(screenFrames(screenSent))) {
      events++;
      const k = e.type === 3 ? `incremental/${e.data.source}` : e.type === 5 ? `custom/${e.data.tag}` : `type/${e.type}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    // Chromium compresses at zlib's default level; the chat socket without context.
    const upScreen = await wireBytes(screenSent, { fromClient: true });
    const upChat = await wireBytes(chatSent, { fromClient: true });
    const up = { ...plus(upScreen, upChat), stream_wire: upScreen.stream_wire + upChat.each_wire, stream_payload: upScreen.stream_payload + upChat.each_payload };
    // The console socket: yawc's balanced profile (level 6), context takeover (transport/mod.rs).
    const down = await wireBytes(recv, { fromClient: false });
    const downLevel1 = await wireBytes(recv, { fromClient: false, level: 1 });
    const deltas = tcpDelta(tcp0, tcp1);
    const visitorSock = deltas.reduce((a, b) => (b.received > (a?.received ?? -1) ? b : a), null);
    const viewerSock = deltas.reduce((a, b) => (b.sent > (a?.sent ?? -1) ? b : a), null);
    const vHeaders = v.handshakes.map((h) => h['Sec-WebSocket-Extensions'] ?? h['sec-websocket-extensions'] ?? null);
    const cHeaders = viewerHandshakes.map((h) => h['Sec-WebSocket-Extensions'] ?? h['sec-websocket-extensions'] ?? null);
    await c.ctx.close();
    await v.ctx.close();
    return {
      ms,
      activity: did,
      ws_send: { calls: sendMs.length, total_ms: Math.round(sendMs.reduce((a, b) => a + b, 0) * 10) / 10, mean_ms: sendMs.length ? Math.round((sendMs.reduce((a, b) => a + b, 0) / sendMs.length) * 1000) / 1000 : null },
      events,
      event_kinds: kinds,
      up,
      up_screen: upScreen,
      up_chat: upChat,
      down,
      down_level1: downLevel1,
      tcp: {
        visitor_to_server: visitorSock?.received ?? null,
        server_to_viewer: viewerSock?.sent ?? null,
        sockets: deltas.length,
      },
      negotiated: { visitor: vHeaders, viewer: cHeaders },
      level_note: `zlib ${zlib.constants.Z_DEFAULT_COMPRESSION} (default, 6) for Chromium's side and the server's console sockets`,
      // For offline analysis (not printed by run.mjs).
      payloads: cfg.keepPayloads ? { screenSent, chatSent, recv } : undefined,
    };
  } finally {
    await browser.close();
    await env.close();
  }
}
