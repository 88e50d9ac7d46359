"""A TCP proxy in front of the test server that can lose a reply.

``drop_next_reply()`` arms it: the next bytes the server sends (the answer to
the client's next request) are not forwarded, and both connections are
closed. For a call in autocommit mode the server has committed by then (it
sends nothing before the transaction ends), so the client sees a connection
error for a write that did happen: exactly the case an idempotency key is for.
"""

from __future__ import annotations

import socket
import threading


class FlakyProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.dropped = 0
        self.connections = 0
        self._armed = threading.Event()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_reply(self) -> None:
        self._armed.set()

    def close(self) -> None:
        self._closed = True
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            self.connections += 1
            pair = (client, server)
            threading.Thread(target=self._pump, args=(client, server, pair, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pair, True),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server and self._armed.is_set():
                    self._armed.clear()
                    self.dropped += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
