// The comparison of issue 4: a socket.io 4.8 room relay, the relay design of
// OpenReplay Assist. A visitor's tracker and the agents watching it join one
// room per session; every `messages` event the tracker emits is forwarded to
// the rest of the room. Nothing is cached: a late joiner waits for the next
// snapshot the tracker is asked for.
//
//   node server.js [PORT]     listens on 127.0.0.1 (port 0: any free port)
//
// Prints `socketio listening on http://127.0.0.1:PORT` once it accepts
// connections; SIGTERM stops it.
'use strict';
const { createServer } = require('node:http');
const { Server } = require('socket.io');

const http = createServer();
const io = new Server(http, {
  // Defaults otherwise (perMessageDeflate off, as in socket.io 4): what a
  // deployment gets unless it tunes them.
  serveClient: false,
});

io.on('connection', (socket) => {
  socket.on('join', (room) => {
    socket.join(room);
    socket.data.room = room;
    socket.emit('joined', room);
  });
  socket.on('messages', (batch) => {
    const room = socket.data.room;
    if (room) socket.to(room).emit('messages', batch);
  });
});

http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`socketio listening on http://127.0.0.1:${http.address().port}`);
});
process.on('SIGTERM', () => {
  io.close();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
