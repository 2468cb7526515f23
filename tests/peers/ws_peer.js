#!/usr/bin/env node
// WebSocket MQTT peers for the integration tests (see
// tests/integration/support/ws_peer.h, which starts this script by pid on a
// free 127.0.0.1 port, and docs: shared design "WebSocket MQTT peers").
//
//   node ws_peer.js --mode aedes  --port P [--path /mqtt] [--cert F --key F]
//   node ws_peer.js --mode bridge --port P --target-port T [--target-host H] ...
//
// Modes:
//   aedes   an aedes MQTT 3.1.1 broker (in memory) behind a WebSocket server.
//           aedes refuses MQTT 5 ("Unacceptable protocol version").
//   text    (for tests of the client) answers the upgrade, then sends one
//           text frame, which MQTT over WebSocket forbids.
//   bridge  a WebSocket -> TCP bridge to an MQTT broker (mosquitto) on
//           T: binary messages are piped both ways unchanged (no MQTT parsing,
//           so MQTT 3.1.1 and 5 both work); when one side closes, so does the
//           other.
//
// Options (both modes):
//   --port P            listen on 127.0.0.1:P (required; 0 = any free port)
//   --path PATH         the only upgrade path accepted (default /mqtt); any
//                       other path gets "HTTP/1.1 400 Bad Request"
//   --cert F --key F    wss: TLS with this certificate chain and key (PEM)
//   --client-ca F       wss: require a client certificate signed by this CA
//   --alpn A,B          wss: ALPN protocols accepted (default: no ALPN)
//   --protocol NAME     the subprotocol chosen when the client offers it
//                       (default mqtt); "none" never selects one (for tests of
//                       a client that must refuse such a handshake)
//   --max-payload N     largest WebSocket message accepted, bytes
//                       (default 64 MiB; bigger ones close with 1009)
//   --node-modules DIR  where aedes and ws are installed (default: the
//                       node_modules folder beside tests/package.json, i.e.
//                       ../node_modules from this script's real location)
//
// Output, one line each, on stdout (unbuffered when stdout is a file):
//   ready PORT
//   upgrade PATH name=value name=value ...   every upgrade request, headers in
//                                            arrival order, names lower-case
//   refused PATH 400                         wrong path
//   tls servername=S alpn=A resumed=B client=SUBJECT   wss: each TLS handshake
//   open PATH protocol=NAME                  handshake done
//   close PATH code=N                        WebSocket closed
//   target-error MESSAGE                     bridge: TCP side failed
//   error MESSAGE                            fatal; the process exits non-zero
// SIGTERM/SIGINT: close every connection and exit 0.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const net = require('net');

function log(line) {
  // Synchronous for files and pipes on Linux: the test sees each line at once.
  process.stdout.write(line + '\n');
}

function fail(message, code = 2) {
  log('error ' + message);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = {
    mode: '',
    port: -1,
    path: '/mqtt',
    cert: '',
    key: '',
    clientCa: '',
    alpn: '',
    protocol: 'mqtt',
    maxPayload: 64 * 1024 * 1024,
    targetHost: '127.0.0.1',
    targetPort: 0,
    nodeModules: path.join(__dirname, '..', 'node_modules'),
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    if (value === undefined) fail('missing value for ' + name);
    i++;
    switch (name) {
      case '--mode': opts.mode = value; break;
      case '--port': opts.port = Number(value); break;
      case '--path': opts.path = value; break;
      case '--cert': opts.cert = value; break;
      case '--key': opts.key = value; break;
      case '--client-ca': opts.clientCa = value; break;
      case '--alpn': opts.alpn = value; break;
      case '--protocol': opts.protocol = value; break;
      case '--max-payload': opts.maxPayload = Number(value); break;
      case '--target-host': opts.targetHost = value; break;
      case '--target-port': opts.targetPort = Number(value); break;
      case '--node-modules': opts.nodeModules = value; break;
      default: fail('unknown option ' + name);
    }
  }
  if (!['aedes', 'bridge', 'text'].includes(opts.mode)) fail('--mode must be aedes, bridge or text');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('--port required');
  if (!opts.path.startsWith('/')) fail('--path must start with /');
  if (Boolean(opts.cert) !== Boolean(opts.key)) fail('--cert and --key go together');
  if (opts.mode === 'bridge' && !(opts.targetPort > 0 && opts.targetPort < 65536)) {
    fail('bridge mode needs --target-port');
  }
  if (!(opts.maxPayload > 0)) fail('--max-payload must be positive');
  return opts;
}

// Loads a pinned npm package from node_modules, checking that the installed
// version is the one tests/package.json pins (a stale install fails loudly).
function loadPinned(opts, name) {
  const hint = 'run `bash tools/setup.sh` (it runs npm ci in tests/)';
  const dir = path.join(opts.nodeModules, name);
  let installed;
  try {
    installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch (e) {
    fail(`npm package ${name} is not installed in ${opts.nodeModules}: ${hint}`, 3);
  }
  try {
    const manifest = path.join(opts.nodeModules, '..', 'package.json');
    const pinned = JSON.parse(fs.readFileSync(manifest, 'utf8')).dependencies[name];
    if (pinned && pinned !== installed) {
      fail(`npm package ${name} ${installed} is installed but ${manifest} pins ${pinned}: ${hint}`, 3);
    }
  } catch (e) {
    // No package.json beside a --node-modules given by hand: take it as it is.
  }
  return require(dir);
}

// aedes writes each packet in several small pieces (fixed header, length,
// body ...), and createWebSocketStream sends every write as a WebSocket
// message of its own: a CONNACK would arrive as four 1-byte messages. This
// Duplex in front of it joins what is written in one tick into one message
// (allowed either way by MQTT over WebSocket), keeping backpressure: while the
// WebSocket stream is full, the next write waits for its 'drain'.
function coalescing(inner) {
  const { Duplex } = require('stream');
  let chunks = [];
  let scheduled = false;
  let full = false;
  let blocked = null;
  const flush = () => {
    scheduled = false;
    if (!chunks.length || inner.destroyed) return;
    const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    chunks = [];
    if (!inner.write(buf) && !full) {
      full = true;
      inner.once('drain', () => {
        full = false;
        const cb = blocked;
        blocked = null;
        if (cb) cb();
      });
    }
  };
  const outer = new Duplex({
    write(chunk, encoding, cb) {
      chunks.push(chunk);
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
      if (full) blocked = cb;
      else cb();
    },
    final(cb) {
      flush();
      inner.end();
      cb();
    },
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      inner.destroy();
      cb(err);
    },
  });
  inner.on('data', (data) => {
    if (!outer.push(data)) inner.pause();
  });
  inner.on('end', () => outer.push(null));
  inner.on('close', () => outer.destroy());
  return outer;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ws = loadPinned(opts, 'ws');
  const { WebSocketServer, createWebSocketStream } = ws;

  let broker = null;
  if (opts.mode === 'aedes') {
    const Aedes = loadPinned(opts, 'aedes');
    // aedes 1.x: `await Aedes.createBroker()`; 0.51: `Aedes()` (which also
    // has a synchronous createBroker).
    broker = typeof Aedes.createBroker === 'function' ? await Aedes.createBroker() : Aedes();
    broker.on('clientError', () => {});
    broker.on('connectionError', () => {});
  }

  let server;
  if (opts.cert) {
    let cert, key;
    try {
      cert = fs.readFileSync(opts.cert);
      key = fs.readFileSync(opts.key);
    } catch (e) {
      fail('cannot read certificate or key: ' + e.message);
    }
    const tlsOptions = { cert, key };
    if (opts.clientCa) {
      tlsOptions.ca = fs.readFileSync(opts.clientCa);
      tlsOptions.requestCert = true;
      tlsOptions.rejectUnauthorized = true;
    }
    if (opts.alpn) tlsOptions.ALPNProtocols = opts.alpn.split(',');
    server = https.createServer(tlsOptions);
    server.on('secureConnection', (s) => {
      const peer = s.getPeerCertificate();
      const subject = peer && peer.subject ? peer.subject.CN : '-';
      log(`tls servername=${s.servername || '-'} alpn=${s.alpnProtocol || '-'} ` +
          `resumed=${s.isSessionReused()} client=${subject || '-'}`);
    });
  } else {
    server = http.createServer();
  }
  // Plain HTTP requests (no upgrade) are not served.
  server.on('request', (req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('WebSocket upgrade required\n');
  });
  server.on('tlsClientError', (err) => log('tls-error ' + err.message));
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({
    noServer: true,
    path: opts.path,
    maxPayload: opts.maxPayload,
    perMessageDeflate: false,
    handleProtocols: (protocols) =>
      opts.protocol !== 'none' && protocols.has(opts.protocol) ? opts.protocol : false,
  });

  server.on('upgrade', (req, socket, head) => {
    const headers = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.push(req.rawHeaders[i].toLowerCase() + '=' + req.rawHeaders[i + 1]);
    }
    log(['upgrade', req.url].concat(headers).join(' '));
    if (!wss.shouldHandle(req)) log('refused ' + req.url + ' 400');
    // ws answers 400 itself for a path other than opts.path.
    wss.handleUpgrade(req, socket, head, (client) => wss.emit('connection', client, req));
  });

  wss.on('connection', (client, req) => {
    const url = req.url;
    log(`open ${url} protocol=${client.protocol || '-'}`);
    client.on('close', (code) => log(`close ${url} code=${code}`));
    client.on('error', () => {});
    const stream = createWebSocketStream(client);
    stream.on('error', () => {});
    if (opts.mode === 'aedes') {
      broker.handle(coalescing(stream), req);
      return;
    }
    if (opts.mode === 'text') {
      // A peer that breaks [MQTT-6.0.0-1]: a text frame instead of binary.
      client.send('not MQTT', { binary: false });
      return;
    }
    const target = net.connect({ host: opts.targetHost, port: opts.targetPort });
    target.setNoDelay(true);
    target.on('error', (err) => {
      log('target-error ' + err.message);
      if (client.readyState === client.OPEN) client.close(1011, 'broker unreachable');
      else client.terminate();
    });
    // pipe(): backpressure both ways, and end() of one side ends the other.
    stream.pipe(target);
    target.pipe(stream);
    stream.on('close', () => target.destroy());
    target.on('close', () => {
      if (client.readyState === client.OPEN) client.close(1000);
      else if (client.readyState !== client.CLOSED) client.terminate();
    });
  });

  // Nothing to save (aedes keeps its state in memory): close and go.
  const shutdown = () => {
    log('stopping');
    for (const client of wss.clients) client.terminate();
    server.close();
    setImmediate(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  server.on('error', (err) => {
    // EADDRINUSE says "address already in use": the C++ side retries another port.
    fail('listen 127.0.0.1:' + opts.port + ': ' + err.message);
  });
  server.listen({ host: '127.0.0.1', port: opts.port, exclusive: true }, () => {
    log('ready ' + server.address().port);
  });
}

main().catch((err) => fail(err && err.stack ? err.stack.replace(/\n/g, ' | ') : String(err)));
