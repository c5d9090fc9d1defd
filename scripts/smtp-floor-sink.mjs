#!/usr/bin/env node
// The floor Node itself sets under accept's load: an SMTP sink in plain Node (net.createServer)
// that answers 220/250/354/250/221 and discards the body, no spool, no log, no policy; driven
// by scripts/count-per-message.sh when its TREE is floor:plain or floor:lean (docs/performance.md,
// session 16). Not a mail server: it answers every command it does not know with 250 and
// accepts whatever comes after DATA up to the first CRLF.CRLF.
//
//   node scripts/smtp-floor-sink.mjs plain|lean PORT [HOST]
//
// plain: what any Node server does: setNoDelay(true) on each connection (as correio's
//   sessions), the input decoded to a string and split into lines, replies written as strings.
// lean:  the leanest per-connection path public Node 20 APIs allow: no socket option set, the
//   replies Buffers prepared once, commands and the body's end found in the Buffers read
//   (one command a read, as a client that waits for every reply sends them), QUIT answered
//   with end(reply). Reading into a buffer of our own (`onread`) is offered by Node 20 only
//   for sockets it connects (net.connect), not for those a server accepts: not public there.
import net from 'node:net';

const [variant, portText, host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portText);
if ((variant !== 'plain' && variant !== 'lean') || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: smtp-floor-sink.mjs plain|lean PORT [HOST]');
  process.exit(64);
}

function plain(socket) {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let input = '';
  let inData = false;
  socket.write('220 floor.localhost ESMTP sink\r\n');
  socket.on('data', (chunk) => {
    input += chunk.toString('latin1');
    if (inData) {
      // the CRLF that ended DATA is put before the body, so an empty body ends too
      const end = input.indexOf('\r\n.\r\n');
      if (end < 0) { input = input.slice(-4); return; }
      input = input.slice(end + 5);
      inData = false;
      socket.write('250 2.0.0 Ok: queued\r\n');
    }
    let nl;
    while (!inData && (nl = input.indexOf('\n')) >= 0) {
      const verb = input.slice(0, 4).toUpperCase();
      input = input.slice(nl + 1);
      if (verb === 'DATA') { inData = true; input = '\r\n' + input; socket.write('354 End data with <CR><LF>.<CR><LF>\r\n'); }
      else if (verb === 'QUIT') { socket.end('221 2.0.0 Bye\r\n'); return; }
      else socket.write('250 2.0.0 Ok\r\n');
    }
  });
}

const R220 = Buffer.from('220 floor.localhost ESMTP sink\r\n');
const R250 = Buffer.from('250 2.0.0 Ok\r\n');
const R354 = Buffer.from('354 End data with <CR><LF>.<CR><LF>\r\n');
const RQUEUED = Buffer.from('250 2.0.0 Ok: queued\r\n');
const R221 = Buffer.from('221 2.0.0 Bye\r\n');
const END = Buffer.from('\r\n.\r\n');
const D = 0x44, Q = 0x51, CASE = 0x20; // 'D', 'Q', lower case bit

function lean(socket) {
  socket.on('error', () => {});
  // in the body: how many octets of END the previous read ended with (0-4)
  let inData = false;
  let matched = 0;
  socket.write(R220);
  socket.on('data', (chunk) => {
    if (!inData) {
      const c = chunk[0] & ~CASE;
      if (c === D && (chunk[1] & ~CASE) === 0x41) { inData = true; matched = 2; socket.write(R354); } // DATA: the CRLF before "." is its own
      else if (c === Q && (chunk[1] & ~CASE) === 0x55) socket.end(R221);
      else socket.write(R250);
      return;
    }
    // the end marker across reads: finish a partial match first, then search this read
    let i = 0;
    while (matched > 0 && matched < 5 && i < chunk.length && chunk[i] === END[matched]) { matched++; i++; }
    if (matched < 5 && i < chunk.length) {
      if (chunk.indexOf(END) >= 0) matched = 5;
      else {
        // how much of END this read ends with
        matched = 0;
        for (let k = Math.min(4, chunk.length); k > 0; k--) if (chunk.subarray(chunk.length - k).equals(END.subarray(0, k))) { matched = k; break; }
      }
    }
    if (matched === 5) { inData = false; matched = 0; socket.write(RQUEUED); }
  });
}

const server = net.createServer(variant === 'plain' ? plain : lean);
server.listen(port, host, () => console.log(`smtp-floor-sink ${variant} listening on ${host}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
