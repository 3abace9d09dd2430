#!/usr/bin/env python3
"""Server memory per idle, logged-in implicit-FTPS session.

Starts the built daemon (default argon2id cost), opens N TLS sessions that
log in and stay idle, and reports the daemon's PSS growth per session and
the login rate. Usage: bench/idle_sessions.py [N] (default 1000; bounded
by the open-file limit of this process).
"""
import os
import resource
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import Gateway  # noqa: E402


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss")


def read_reply(f):
    line = f.readline()
    while len(line) > 3 and line[3:4] == "-":
        line = f.readline()
    return line


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * n + 100)), hard))
    gw = Gateway(env={"FTPSGATE_ARGON2_M_COST_KIB": "19456", "FTPSGATE_ARGON2_T_COST": "2",
                      "FTPSGATE_LOG_LEVEL": "warn"})
    gw.start()
    try:
        acct = gw.create_account(username="idle")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        time.sleep(0.5)
        before = pss_kib(gw.proc.pid)
        conns = []
        t0 = time.time()
        for _ in range(n):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", gw.ftps_port), 30))
            f = s.makefile("r", encoding="utf-8")
            assert read_reply(f).startswith("220")
            s.sendall(b"USER idle\r\n")
            assert read_reply(f).startswith("331")
            s.sendall(("PASS %s\r\n" % acct["password"]).encode())
            assert read_reply(f).startswith("230")
            conns.append((s, f))
        elapsed = time.time() - t0
        time.sleep(1.0)
        after = pss_kib(gw.proc.pid)
        print("sessions: %d logged in, idle" % n)
        print("login rate: %.0f sessions/s sequential (argon2id m=19 MiB t=2)" % (n / elapsed))
        print("daemon PSS: %d KiB before, %d KiB after" % (before, after))
        print("per session: %.1f KiB" % ((after - before) / n))
        for s, f in conns:
            s.close()
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
