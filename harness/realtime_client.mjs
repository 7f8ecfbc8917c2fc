// A WebSocket client of GET /v1/realtime for the tests and the bench, on Node's own WebSocket.
//
//   node harness/realtime_client.mjs <ws url> <topic> [sockets]
//
// Opens `sockets` (default 1) sockets, subscribes each to `topic`, and writes JSON lines to stdout:
//   {"kind":"ready","sockets":n}                      once every socket is subscribed
//   {"kind":"message","socket":i,"message":{...}}     each message after that, in arrival order
//   {"kind":"close","socket":i,"code":c}              a socket the server closed (then exits once
//                                                     every socket is closed)
// With LATENCY=1 it prints no messages; each `note.created` whose title is `bench <ms>` (ms since
// the epoch, with fractions: performance.timeOrigin + performance.now() at the sender) counts one
// latency sample, and on stdin EOF it prints {"kind":"latency","samples":[ms, ...]}.
const [url, topic, count = '1'] = process.argv.slice(2);
const latencyOnly = process.env.LATENCY === '1';
const samples = [];
const now = () => performance.timeOrigin + performance.now();
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

let open = 0;
let subscribed = 0;
const total = Number(count);
for (let i = 0; i < total; i++) {
  const socket = new WebSocket(url);
  open++;
  socket.addEventListener('open', () => {
    socket.send(JSON.stringify({ type: 'subscribe', data: { topic } }));
  });
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data));
    if (message.type === 'subscribed') {
      if (++subscribed === total) print({ kind: 'ready', sockets: total });
      return;
    }
    if (!latencyOnly) return print({ kind: 'message', socket: i, message });
    const title = message.data?.title ?? '';
    if (title.startsWith('bench ')) samples.push(now() - Number(title.slice(6)));
  });
  socket.addEventListener('close', (event) => {
    print({ kind: 'close', socket: i, code: event.code });
    if (--open === 0) process.exit(0);
  });
  socket.addEventListener('error', () => {});
}

process.stdin.resume();
process.stdin.on('end', () => {
  if (latencyOnly) print({ kind: 'latency', samples });
  process.exit(0);
});
