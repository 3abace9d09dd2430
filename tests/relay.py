"""A TCP relay for fault tests: forwards connections from a loopback port
to a server until it is stopped, so that a test can make a server
unreachable (stop the relay: connections drop, new ones are refused)
and reachable again (start it on the same port) without touching the
server, which other tests running at the same time keep using.

    python3 relay.py LISTEN_PORT TARGET_HOST:TARGET_PORT   (until SIGTERM)
    Relay(target).start() / .stop() / .start() ...          (in a test)
"""
import signal
import socket
import sys
import threading


class Relay:
    def __init__(self, target, port=0):
        self.target = target
        self.port = port
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        self.port = s.getsockname()[1]
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()
        return self

    def stop(self):
        s, self.listener = self.listener, None
        if s:
            s.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, s):
        while self.listener is s:
            try:
                client, _ = s.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(262144)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


if __name__ == "__main__":
    host, port = sys.argv[2].rsplit(":", 1)
    relay = Relay((host, int(port)), int(sys.argv[1])).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(relay.port, flush=True)
    done.wait()
    relay.stop()
