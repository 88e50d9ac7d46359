'use strict';
// A TCP proxy in front of the test server that can lose a reply.
//
// dropNextReply() arms it: the next bytes the server sends (the answer to the
// client's next request) are not forwarded, and both connections are closed.
// For a call in autocommit mode the server has committed by then (it sends
// nothing before the transaction ends), so the client sees a connection error
// for a write that did happen: exactly the case an idempotency key is for.

const net = require('node:net');

class FlakyProxy {
  constructor(upstreamHost, upstreamPort) {
    this.upstream = { host: upstreamHost, port: upstreamPort };
    this.dropped = 0;
    this.connections = 0;
    this.armed = false;
    this.sockets = new Set();
    this.server = net.createServer((client) => this.accept(client));
  }

  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  dropNextReply() {
    this.armed = true;
  }

  accept(client) {
    this.connections += 1;
    const server = net.connect(this.upstream);
    const pair = [client, server];
    for (const s of pair) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => pair.forEach((x) => x.destroy()));
    }
    client.on('data', (data) => server.write(data));
    server.on('data', (data) => {
      if (this.armed) {
        this.armed = false;
        this.dropped += 1;
        pair.forEach((x) => x.destroy());
        return;
      }
      client.write(data);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
  }

  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

module.exports = { FlakyProxy };
