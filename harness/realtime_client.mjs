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
// latency sample; once it has EXPECT samples (or on stdin EOF) it prints
// {"kind":"latency","samples":[ms, ...]} and exits.
const [url, topic, count = '1'] = process.argv.slice(2);
const latencyOnly = process.env.LATENCY === '1';
const samples = [];
const now = () => performance.timeOrigin + performance.now();
const print = (line, then) => process.stdout.write(`${JSON.stringify(line)}\n`, then);
// Exit once stdout has taken everything: a pipe is written asynchronously.
const exit = () => process.stdout.write('', () => process.exit(0));
const BENCH_TITLE = /"title":"bench ([0-9.]+)"/;
const expected = Number(process.env.EXPECT ?? Number.POSITIVE_INFINITY);
function record(ms) {
  samples.push(Math.round(ms * 100) / 100);
  if (samples.length === expected) {
    print({ kind: 'latency', samples });
    exit();
  }
}

// Sockets open in batches: a thousand handshakes at once would overflow the server's listen
// backlog, which is not what this client measures.
const BATCH = 100;
let open = 0;
const total = Number(count);

function connect(i) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    open++;
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', data: { topic } }));
    });
    socket.addEventListener('message', (event) => {
      const text = String(event.data);
      if (latencyOnly) {
        // A regular expression, not JSON.parse: the client's own cost stays out of the figure.
        const sent = BENCH_TITLE.exec(text)?.[1];
        if (sent !== undefined) record(now() - Number(sent));
        else if (text.includes('"subscribed"')) resolve();
        return;
      }
      const message = JSON.parse(text);
      if (message.type === 'subscribed') return resolve();
      print({ kind: 'message', socket: i, message });
    });
    socket.addEventListener('close', (event) => {
      print({ kind: 'close', socket: i, code: event.code });
      resolve();
      if (--open === 0) exit();
    });
    socket.addEventListener('error', () => {});
  });
}

for (let first = 0; first < total; first += BATCH) {
  const batch = [];
  for (let i = first; i < Math.min(first + BATCH, total); i++) batch.push(connect(i));
  await Promise.all(batch);
}
if (open === total) print({ kind: 'ready', sockets: total });

process.stdin.resume();
process.stdin.on('end', () => {
  if (latencyOnly) print({ kind: 'latency', samples });
  exit();
});
