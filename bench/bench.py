#!/usr/bin/env python3
"""ftpsgate side by side with vsftpd and the raw TLS limit, in one run.

Run it through bench/run.sh (which installs what it needs and builds the
daemon). Every scenario alternates the servers round by round and reports
medians and ratios measured in this run, because absolute figures drift
on shared machines. See docs/benchmarks.md for what each scenario means.

Settings (environment):
  BENCH_DIR             work directory (default /var/tmp/ftpsgate-bench)
  BENCH_OUT             where results.json, the table and the plot go (bench/out)
  BENCH_QUICK=1         small sizes: a smoke run of every scenario in ~3 min
  BENCH_ONLY=a,b        only these scenarios: stream parallel sessions load idle
                        api console storm honest age attack pg s3 cluster
  BENCH_PG_POOL=n       the pg scenario's database_pool (default: the daemon's)
  BENCH_OTHERS=a,b      other servers beside vsftpd (default proftpd,pure-ftpd;
                        empty: none)
"""
import ftplib
import glob
import io
import json
import os
import re
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import ftps  # noqa: E402
from harness import Gateway, free_port  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
WORK = os.environ.get("BENCH_DIR", "/var/tmp/ftpsgate-bench")
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "out"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
MiB = 1024 * 1024


def knob(name, full, quick):
    return int(os.environ.get("BENCH_" + name, quick if QUICK else full))


STREAM_MIB = knob("STREAM_MIB", 2048, 256)
STREAM_ROUNDS = knob("STREAM_ROUNDS", 5, 2)
PARALLEL = knob("PARALLEL", 8, 8)
PARALLEL_MIB = knob("PARALLEL_MIB", 1024, 64)
PARALLEL_ROUNDS = knob("PARALLEL_ROUNDS", 3, 1)
SESSIONS = knob("SESSIONS", 1000, 200)
S3_MIB = knob("S3_MIB", 1024, 128)
S3_ROUNDS = knob("S3_ROUNDS", 3, 1)
S3_PARTS = (5, 8, 16, 32)
S3_FTPS_MIB = knob("S3_FTPS_MIB", 2048, 128)  # one age-encrypted upload through FTPS into S3
S3_PARALLEL_MIB = knob("S3_PARALLEL_MIB", 256, 32)  # each of 8 at once
SESSION_ROUNDS = knob("SESSION_ROUNDS", 3, 1)
IDLE = knob("IDLE", 10000, 1000)
IDLE_VSFTPD = knob("IDLE_VSFTPD", 500, 100)  # for every server that forks per session
OTHER_SESSION_ROUNDS = knob("OTHER_SESSION_ROUNDS", 1, 1)  # ProFTPD, pure-ftpd: slow, and optional
OTHERS = [x for x in os.environ.get("BENCH_OTHERS", "proftpd,pure-ftpd").split(",") if x]
RECORDS = knob("RECORDS", 100000, 10000)
ATTACK_MIB = knob("ATTACK_MIB", 100, 100)

VS_USER, VS_PASS = "ftpbench", "Bench-Pass-0123456789"
# Passive ranges above the ephemeral ports (32768-60999): the load
# generator's own connections cannot take them.
GW_PASSIVE = (61000, 62099)
VS_PASSIVE = (62100, 63199)
PRO_PASSIVE = (63200, 64299)
PURE_PASSIVE = (64300, 65399)
# argon2id as a default install has it (the tests use a cheaper one).
GW_DEFAULTS = {"FTPSGATE_ARGON2_M_COST_KIB": "19456", "FTPSGATE_ARGON2_T_COST": "2",
               "FTPSGATE_LOG_LEVEL": "warn", "FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "0",
               "FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "0", "FTPSGATE_SHUTDOWN_GRACE_S": "5",
               # 1,000 sessions of one account from one address at once
               "FTPSGATE_MAX_PASSIVE_PER_ACCOUNT": "0", "FTPSGATE_MAX_PASSIVE_PER_ADDRESS": "0"}


def log(*a):
    print(*a, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, **kw)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def clear_files(pattern_list):
    """Remove uploaded files between rounds: each round then writes into
    page-cache memory the last one freed, the same for every server."""
    for pattern in pattern_list:
        for p in glob.glob(pattern, recursive=True):
            if os.path.isfile(p) or os.path.islink(p):
                os.unlink(p)


# ---------------------------------------------------------------- servers

PIPES = ("raw TLS pipe", "raw TLS pipe, O_DIRECT", "raw TLS pipe, curl as client")


class Pipe:
    """The limit: TLS 1.3 from a file to a file, no FTP (bench/tlspipe.c),
    written through the page cache, or (direct) as ftpsgate writes; with
    its own client, or (curl) with curl sending an HTTPS PUT."""

    def __init__(self, direct=False, curl=False):
        self.name = PIPES[2] if curl else PIPES[1] if direct else PIPES[0]
        self.direct, self.curl = direct, curl
        self.bin = os.path.join(WORK, "tlspipe")
        run(["cc", "-O2", "-o", self.bin, os.path.join(HERE, "tlspipe.c"), "-lssl", "-lcrypto"])
        self.dir = os.path.join(WORK, "pipe-curl" if curl else "pipe-direct" if direct else "pipe")
        os.makedirs(self.dir, exist_ok=True)

    def client(self, port, src):
        if self.curl:
            return subprocess.Popen(["curl", "-s", "-S", "-k", "-f", "-H", "Expect:", "-T", src, "-o", "/dev/null",
                                     "-w", CURL_TIMES, "https://127.0.0.1:%d/upload" % port],
                                    stdout=subprocess.PIPE, text=True)
        return subprocess.Popen([self.bin, "client", str(port), src], stdout=subprocess.PIPE, text=True)

    def streams(self, src, n):
        servers = []
        for i in range(n):
            port = free_port()
            p = subprocess.Popen([self.bin, "server", str(port), CERT, KEY, os.path.join(self.dir, "out%d" % i)]
                                 + (["direct"] if self.direct else []) + (["http"] if self.curl else []),
                                 stdout=subprocess.PIPE, text=True)
            p.stdout.readline()  # ready
            servers.append((p, port))
        t0 = time.time()
        clients = [(time.time(), self.client(port, src)) for _, port in servers]
        phases = []
        for start, c in clients:
            out = c.communicate(timeout=600)[0]
            if self.curl:
                phases.append(curl_phase(start, out))
            else:  # tlspipe: "SECONDS BYTES", from the end of its handshake
                took = float(out.split()[0]) if c.returncode == 0 else float("nan")
                phases.append((start, start + took) if c.returncode == 0 else None)
        wall = time.time() - t0
        for p, _ in servers:
            p.wait(60)
        return data_span(phases), wall, all(c.returncode == 0 for _, c in clients)

    def clear(self):
        clear_files([self.dir + "/*"])


class Ftpsgate:
    def __init__(self, label="ftpsgate", env=None, passive=GW_PASSIVE):
        self.name = label
        e = dict(GW_DEFAULTS, FTPSGATE_TLS_CERT=CERT, FTPSGATE_TLS_KEY=KEY, FTPSGATE_BAN_AFTER_FAILURES="0")
        e.update(env or {})
        self.dir = os.path.join(WORK, label.replace(" ", "-").replace(",", ""))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.gw = Gateway(data_dir=self.dir, env=e, passive=passive)
        self.gw.start()
        self.acct = self.gw.create_account(username="bench")
        self.user, self.password, self.port = "bench", self.acct["password"], self.gw.ftps_port

    @property
    def pids(self):
        return [self.gw.proc.pid]

    def settle(self):
        """Wait until every upload is imported (the pipeline is idle)."""
        deadline = time.time() + 120
        while time.time() < deadline:
            text = self.gw.api("GET", "/metrics")[1]
            busy = sum(float(m) for m in re.findall(
                r'^ftpsgate_uploads\{state="(?:received|verifying|verified|importing)"\} (\S+)$', text, re.M))
            if busy == 0:
                return
            time.sleep(0.2)

    def clear(self):
        self.settle()
        v = os.path.join(self.dir, "var")
        clear_files([v + "/uploads/*", v + "/accounts/*/**", v + "/imported/**"])

    def stop(self):
        """Stop, and give the disk back (the API scenario alone writes
        uploads for as long as wrk runs)."""
        self.gw.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def debian_package(names):
    """Debian's packages unpacked side by side into one folder (they
    conflict when installed): (folder, version of the first)."""
    root = os.path.join(WORK, names[0] + "-pkg")
    debs = []
    for name in names:
        found = sorted(glob.glob(os.path.join(WORK, "%s_*.deb" % name)))
        if not found:
            run(["apt-get", "download", name], cwd=WORK)
            found = sorted(glob.glob(os.path.join(WORK, "%s_*.deb" % name)))
        debs.append(found[-1])
    if not os.path.exists(os.path.join(root, ".unpacked")):
        os.makedirs(root, exist_ok=True)
        for deb in debs:
            run(["dpkg", "-x", deb, root])
        open(os.path.join(root, ".unpacked"), "w").close()
    return root, run(["dpkg-deb", "-f", debs[0], "Version"]).stdout.strip()


def system_user():
    """The local user the other servers log in as, its home (shared by
    them, emptied between rounds) and password."""
    home = os.path.join(WORK, "ftp-home")
    if subprocess.run(["id", VS_USER], capture_output=True).returncode != 0:
        run(["useradd", "-M", "-d", home, "-s", "/bin/sh", VS_USER])
    else:
        run(["usermod", "-d", home, VS_USER])
    os.makedirs(home, exist_ok=True)
    shutil.chown(home, VS_USER, VS_USER)
    run(["chpasswd"], input="%s:%s\n" % (VS_USER, VS_PASS))
    return home


def wait_port(port, proc, name):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (name, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s does not listen on %d" % (name, port))


class Vsftpd:
    name = "vsftpd"
    implicit = True

    def __init__(self):
        root, self.version = debian_package(["vsftpd"])
        self.bin = os.path.join(root, "usr", "sbin", "vsftpd")
        self.home = system_user()
        with open("/etc/pam.d/ftpsgate-bench-vsftpd", "w") as f:
            f.write("auth required pam_unix.so\naccount required pam_unix.so\n"
                    "session required pam_unix.so\n")
        empty = os.path.join(WORK, "vsftpd-empty")
        os.makedirs(empty, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(WORK, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "listen=YES", "listen_address=127.0.0.1", "listen_port=%d" % self.port,
                "background=NO", "anonymous_enable=NO", "local_enable=YES", "write_enable=YES",
                "pam_service_name=ftpsgate-bench-vsftpd", "secure_chroot_dir=" + empty,
                "ssl_enable=YES", "implicit_ssl=YES", "rsa_cert_file=" + CERT,
                "rsa_private_key_file=" + KEY, "ssl_tlsv1=YES", "ssl_sslv2=NO", "ssl_sslv3=NO",
                "require_ssl_reuse=YES", "strict_ssl_read_eof=YES", "force_local_data_ssl=YES",
                "force_local_logins_ssl=YES", "pasv_enable=YES", "pasv_address=127.0.0.1",
                "pasv_min_port=%d" % VS_PASSIVE[0], "pasv_max_port=%d" % VS_PASSIVE[1],
                "max_clients=20000", "max_per_ip=20000", "seccomp_sandbox=NO",
                "xferlog_enable=NO", "idle_session_timeout=3600", "data_connection_timeout=600", ""]))
        self.proc = subprocess.Popen([self.bin, conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "vsftpd")
        self.user, self.password = VS_USER, VS_PASS

    @property
    def pids(self):
        return children(self.proc.pid)

    def clear(self):
        clear_files([self.home + "/*"])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        subprocess.run(["pkill", "-9", "-f", self.bin], capture_output=True)


class Proftpd(Vsftpd):
    """ProFTPD with mod_tls: implicit FTPS, TLS session reuse required on
    data connections (its default), a process per session."""
    name = "ProFTPD"

    def __init__(self):
        root, self.version = debian_package(["proftpd-core", "proftpd-mod-crypto"])
        self.bin = os.path.join(root, "usr", "sbin", "proftpd")
        self.home = system_user()
        self.port = free_port()
        run_dir = os.path.join(WORK, "proftpd-run")
        os.makedirs(run_dir, exist_ok=True)
        conf = os.path.join(WORK, "proftpd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "ServerType standalone", "DefaultAddress 127.0.0.1", "SocketBindTight on",
                "Port %d" % self.port, "UseIPv6 off", "User " + VS_USER, "Group " + VS_USER,
                "ModulePath " + os.path.join(root, "usr", "lib", "proftpd"), "LoadModule mod_tls.c",
                "PidFile %s/proftpd.pid" % run_dir, "ScoreboardFile %s/proftpd.scoreboard" % run_dir,
                "DelayTable none", "WtmpLog off", "UseReverseDNS off", "MaxInstances 20000",
                "RequireValidShell off", "DefaultRoot ~", "AllowOverwrite on",
                "PassivePorts %d %d" % PRO_PASSIVE, "TimeoutIdle 3600", "AuthOrder mod_auth_unix.c",
                "TransferLog none", "SystemLog none",
                "<IfModule mod_tls.c>", "TLSEngine on", "TLSRequired on", "TLSProtocol TLSv1.2 TLSv1.3",
                "TLSECCertificateFile " + CERT, "TLSECCertificateKeyFile " + KEY,
                "TLSOptions UseImplicitSSL", "TLSVerifyClient off", "TLSRenegotiate none",
                "</IfModule>", ""]))
        self.proc = subprocess.Popen([self.bin, "-n", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "proftpd")
        self.user, self.password = VS_USER, VS_PASS


class PureFtpd(Vsftpd):
    """pure-ftpd with TLS required on control and data. Debian builds it
    without implicit TLS: its clients start with AUTH TLS (explicit)."""
    name = "pure-ftpd"
    implicit = False

    def __init__(self):
        root, self.version = debian_package(["pure-ftpd"])
        self.bin = os.path.join(root, "usr", "sbin", "pure-ftpd")
        self.home = system_user()
        self.port = free_port()
        self.proc = subprocess.Popen([self.bin, "-S", "127.0.0.1,%d" % self.port, "-p", "%d:%d" % PURE_PASSIVE,
                                      "-Y", "3", "-E", "-A", "-H", "-c", "20000", "-C", "20000", "-l", "unix",
                                      "-2", "%s,%s" % (CERT, KEY)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "pure-ftpd")
        self.user, self.password = VS_USER, VS_PASS


OTHER_SERVERS = {"proftpd": Proftpd, "pure-ftpd": PureFtpd}


# ---------------------------------------------------------------- clients

class ExplicitFTPS(ftplib.FTP_TLS):
    """ftplib's explicit FTPS, reusing the control session for data (as
    tests/e2e/ftps.py does for implicit)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def ftp_login(srv, timeout=60, source=None):
    """Logged in with PROT P, implicit or explicit as the server wants
    (from the client address source, when given)."""
    if getattr(srv, "implicit", True):
        return ftps.login(getattr(srv, "host", "127.0.0.1"), srv.port, srv.user, srv.password,
                          timeout=timeout, source=source)
    ftp = ExplicitFTPS(context=ftps.client_context(), timeout=timeout)
    try:
        ftp.connect("127.0.0.1", srv.port)
        ftp.auth()
        ftp.login(srv.user, srv.password)
        ftp.prot_p()
    except BaseException:
        ftp.close()
        raise
    return ftp

# curl's times: from its start, when the data phase began (FTP: once
# logged in, the data connection set up and its STOR sent; HTTPS: once
# the TLS handshake is done) and when all was done (226, or the answer).
CURL_TIMES = "%{time_pretransfer} %{time_total}"


def curl_phase(start, out):
    """(data phase start, end) in wall-clock seconds, or None (failed)."""
    try:
        pre, total = (float(x) for x in out.split()[:2])
    except ValueError:
        return None
    return start + pre, start + total


def data_span(phases):
    """Seconds from the first data phase's start to the last one's end."""
    if not phases or any(p is None for p in phases):
        return float("nan")
    return max(e for _, e in phases) - min(b for b, _ in phases)


def curl_upload(srv, src, name, source=None):
    """(succeeded, total seconds, (data phase start, end))."""
    scheme = "ftps" if getattr(srv, "implicit", True) else "ftp"  # with --ssl-reqd: AUTH TLS
    start = time.time()
    r = subprocess.run(["curl", "-s", "-S", "-k", "--ssl-reqd", "-T", src,
                        "%s://%s:%s@%s:%d/%s" % (scheme, srv.user, srv.password,
                                                 getattr(srv, "host", "127.0.0.1"), srv.port, name),
                        "-w", CURL_TIMES] + (["--interface", source] if source else []),
                       capture_output=True, text=True, timeout=900)
    phase = curl_phase(start, r.stdout) if r.returncode == 0 else None
    return r.returncode == 0, (phase[1] - start) if phase else float("nan"), phase


def upload_streams(srv, src, n):
    """n uploads at once: (seconds of the data phases, wall seconds, all
    succeeded). The data phases run from the first upload's data start to
    the last one's confirmation: what each client spends before (login,
    connections, and a 200 ms pause curl 7.88 makes before every FTP data
    transfer, whatever the server) is left out, for every server alike."""
    if hasattr(srv, "streams"):
        return srv.streams(src, n)
    sources = getattr(srv, "sources", None)
    results, wall = at_once(lambda i: curl_upload(srv, src, "s%d.bin" % i,
                                                  sources[i % len(sources)] if sources else None), n)
    return data_span([r[2] for r in results]), wall, all(r[0] for r in results)


def at_once(fn, n):
    """fn(0) .. fn(n - 1) in threads started together: their results, and
    the wall seconds until the last ended."""
    results = [None] * n

    def one(i):
        results[i] = fn(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.time() - t0


def session_storm(srv, n, payload):
    """n sessions at once, each: login, PBSZ/PROT P, STOR payload, QUIT.
    (wall seconds, failures)."""
    threading.stack_size(256 * 1024)
    gate = threading.Barrier(n + 1)
    failures = []

    sources = getattr(srv, "sources", None)

    def one(i):
        gate.wait()
        try:
            ftp = ftp_login(srv, timeout=300, source=sources[i % len(sources)] if sources else None)
            ftp.storbinary("STOR sess%d.bin" % i, io.BytesIO(payload))
            ftp.quit()
        except Exception as e:  # every kind of failure counts
            failures.append(repr(e)[:120])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.time()
    for t in threads:
        t.join(600)
    return time.time() - t0, failures


def reply(f):
    """The next FTP reply's last line (RFC 959: a multi-line reply ends
    with its code and a space)."""
    line = f.readline()
    if line[3:4] == b"-":
        end = line[:3] + b" "
        while line and not line.startswith(end):
            line = f.readline()
    return line


def open_idle(srv, n, conns):
    """Log n TLS sessions in and leave them idle (appended to conns)."""
    ctx = ftps.client_context()
    lock = threading.Lock()
    errors = []

    def worker(count):
        for _ in range(count):
            try:
                raw = socket.create_connection(("127.0.0.1", srv.port), 60)
                if not getattr(srv, "implicit", True):
                    f = raw.makefile("rb")
                    if not reply(f).startswith(b"220"):
                        raise RuntimeError("no welcome")
                    raw.sendall(b"AUTH TLS\r\n")
                    if not reply(f).startswith(b"234"):
                        raise RuntimeError("AUTH TLS refused")
                    f.close()
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
                f = s.makefile("rb")
                if getattr(srv, "implicit", True):
                    reply(f)
                s.sendall(("USER %s\r\n" % srv.user).encode())
                reply(f)
                s.sendall(("PASS %s\r\n" % srv.password).encode())
                if not reply(f).startswith(b"230"):
                    raise RuntimeError("login refused")
                with lock:
                    conns.append((s, f))
            except Exception as e:
                errors.append(repr(e)[:120])

    threads = [threading.Thread(target=worker, args=(n // 8 + (1 if i < n % 8 else 0),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def fresh_login_ms(srv):
    t0 = time.time()
    ftp = ftp_login(srv)
    ftp.nlst()
    ftp.quit()
    return (time.time() - t0) * 1000


# ---------------------------------------------------------------- scenarios

def scenario_stream(res, servers, src):
    log("\n== single stream: %d MiB, %d rounds, servers alternating" % (STREAM_MIB, STREAM_ROUNDS))
    rates = {s.name: [] for s in servers}
    walls = {s.name: [] for s in servers}
    for r in range(STREAM_ROUNDS):
        for s in servers:
            s.clear()
            data, wall, ok = upload_streams(s, src, 1)
            rate = STREAM_MIB / data if ok else float("nan")
            rates[s.name].append(rate)
            walls[s.name].append(STREAM_MIB / wall if ok else float("nan"))
            log("  round %d %-30s %7.1f MiB/s (wall clock: %.1f)%s"
                % (r + 1, s.name, rate, walls[s.name][-1], "" if ok else " FAILED"))
    for s in servers:
        s.clear()
    res["stream"] = {k: median(v) for k, v in rates.items()}
    res["stream_rounds"] = rates
    res["stream_wall"] = {k: median(v) for k, v in walls.items()}


def scenario_parallel(res, servers, src, n, mib, rounds, key):
    log("\n== %d parallel uploads of %d MiB, %d rounds" % (n, mib, rounds))
    rates = {s.name: [] for s in servers}
    walls = {s.name: [] for s in servers}
    for r in range(rounds):
        for s in servers:
            s.clear()
            data, wall, ok = upload_streams(s, src, n)
            rate = n * mib / data if ok else float("nan")
            rates[s.name].append(rate)
            walls[s.name].append(n * mib / wall if ok else float("nan"))
            log("  round %d %-30s %7.1f MiB/s in all (wall clock: %.1f)%s"
                % (r + 1, s.name, rate, walls[s.name][-1], "" if ok else " FAILED"))
    for s in servers:
        s.clear()
    res[key] = {k: median(v) for k, v in rates.items()}
    res[key + "_wall"] = {k: median(v) for k, v in walls.items()}


def scenario_sessions(res, servers, key="sessions"):
    log("\n== %d sessions at once (login, STOR 64 KiB, QUIT), %d rounds" % (SESSIONS, SESSION_ROUNDS))
    payload = os.urandom(64 * 1024)
    out = {s.name: {"wall": [], "failed": []} for s in servers}
    for r in range(SESSION_ROUNDS):
        for s in servers:
            if isinstance(s, (Proftpd, PureFtpd)) and r >= OTHER_SESSION_ROUNDS:
                continue
            s.clear()
            wall, failures = session_storm(s, SESSIONS, payload)
            out[s.name]["wall"].append(wall)
            out[s.name]["failed"].append(len(failures))
            log("  round %d %-30s %6.1f s, %d failed %s" % (r + 1, s.name, wall, len(failures),
                                                           failures[:2] if failures else ""))
    for s in servers:
        s.clear()
    res[key] = {k: {"wall": median(v["wall"]), "failed": max(v["failed"])} for k, v in out.items()}


LOAD_SESSIONS = (knob("LOAD_SESSIONS", 1000, 200), knob("LOAD_SESSIONS_MANY", 10000, 1000))
LOAD_ROUNDS = knob("LOAD_ROUNDS", 3, 1)
# a passive range for as many sessions at once as the descriptors allow,
# below the ephemeral ports
LOAD_PASSIVE = (20000, 31999)


def ftpsload():
    """bench/ftpsload.c built (once a run): its path."""
    path = os.path.join(WORK, "ftpsload")
    if not getattr(ftpsload, "built", False):
        run(["cc", "-O2", "-o", path, os.path.join(HERE, "ftpsload.c"), "-lssl", "-lcrypto", "-lpthread"])
        ftpsload.built = True
    return path


def process_cpu_s(pids):
    """CPU seconds of the processes and of their children they reaped."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in st[11:15])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def scenario_load(res, vs):
    """bench/ftpsload.c (C, a thread a session): N sessions released at
    once, each login, STOR 64 KiB, QUIT; the wall time, failures, and the
    CPU the server and the client spent per session. ftpsgate at 1,000 and
    10,000, vsftpd at 1,000; alternating, medians."""
    load = ftpsload()
    g = Ftpsgate("ftpsgate load", passive=LOAD_PASSIVE)
    one, many = LOAD_SESSIONS
    log("\n== bench/ftpsload: %d and %d sessions at once (login, STOR 64 KiB, QUIT), %d rounds"
        % (one, many, LOAD_ROUNDS))
    out = {}

    def once(srv, n, pids):
        srv.clear()
        cpu0, kids0 = process_cpu_s(pids()), resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([load, "127.0.0.1", str(srv.port), srv.user, srv.password, str(n), "65536"],
                           capture_output=True, text=True, timeout=1800)
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = process_cpu_s(pids()) - cpu0
        client = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        lines = r.stdout.splitlines()
        total, ok, failed, wall = lines[0].split()[:4] if lines else ("0", "0", str(n), "nan")
        return {"wall": float(wall), "failed": int(failed), "server_ms": 1000 * server / n,
                "client_ms": 1000 * client / n, "errors": lines[1:3]}

    try:
        # one login first: the credential cache holds the password, as
        # in the sessions scenario's later rounds
        subprocess.run([load, "127.0.0.1", str(g.port), g.user, g.password, "1"], capture_output=True,
                       timeout=60)
        cases = [("ftpsgate", one, g, lambda: [g.gw.proc.pid]), ("ftpsgate", many, g, lambda: [g.gw.proc.pid]),
                 ("vsftpd", one, vs, lambda: vs.pids)]
        rounds = {(name, n): [] for name, n, _, _ in cases}
        for r in range(LOAD_ROUNDS):
            for name, n, srv, pids in cases:
                e = once(srv, n, pids)
                rounds[(name, n)].append(e)
                log("  round %d %-9s %6d sessions: %6.2f s, %d failed; server %.2f ms CPU a session,"
                    " client %.2f ms %s" % (r + 1, name, n, e["wall"], e["failed"], e["server_ms"],
                                            e["client_ms"], e["errors"][:1] if e["errors"] else ""))
        for (name, n), es in rounds.items():
            out["%s %d" % (name, n)] = {"sessions": n, "wall": median([e["wall"] for e in es]),
                                        "failed": max(e["failed"] for e in es),
                                        "server_ms": median([e["server_ms"] for e in es]),
                                        "client_ms": median([e["client_ms"] for e in es])}
    finally:
        g.stop()
    res["load"] = out


def scenario_idle(res, gw, others):
    log("\n== idle logged-in TLS sessions: memory per session")
    out = {}
    steps = lambda top: sorted(set(n for n in (10, 100, 1000, 5000, top) if n <= top))
    for srv in [gw] + others:
        # Sessions are added in steps and held: each point is the growth
        # from one baseline, divided by all the sessions held then.
        points, conns, errors = [], [], []
        time.sleep(1)
        before = pss_kib(srv.pids)
        t0 = time.time()
        for n in steps(IDLE if srv is gw else IDLE_VSFTPD):
            errors += open_idle(srv, n - len(conns), conns)
            login_s = time.time() - t0
            time.sleep(2)
            after = pss_kib(srv.pids)
            fresh = fresh_login_ms(srv)
            per = (after - before) / max(1, len(conns))
            points.append({"sessions": len(conns), "kib_per_session": per, "errors": len(errors),
                           "login_s": login_s, "fresh_login_ms": fresh})
            log("  %-10s %6d sessions: %7.1f KiB each (PSS %d -> %d KiB), %d errors, all logged in"
                " after %.1f s; a new client logged in and listed in %.0f ms"
                % (srv.name, len(conns), per, before, after, len(errors), login_s, fresh))
        for s, f in conns:
            s.close()
        out[srv.name] = points
    res["idle"] = out


def background_uploads(g, n):
    """n uploads of parallel.bin to g, each again as soon as it ends,
    until the function returned is called (it waits for them)."""
    src = os.path.join(WORK, "parallel.bin")
    stop = threading.Event()

    def keep_uploading(i):
        while not stop.is_set():
            curl_upload(g, src, "bg%d.bin" % i)

    bg = [threading.Thread(target=keep_uploading, args=(i,)) for i in range(n)]
    for t in bg:
        t.start()

    def end():
        stop.set()
        for t in bg:
            t.join()
    return end


def scenario_api(res, database_url=None, key="api", uploads=None):
    uploads = PARALLEL if uploads is None else uploads
    log("\n== admin API: GET /uploads?limit=100 over %d records with wrk while %d uploads run%s"
        % (RECORDS, uploads, " (records on PostgreSQL)" if database_url else " (SQLite)"))
    import sqlite3
    g = Ftpsgate("ftpsgate " + key, env={"FTPSGATE_DATABASE_URL": database_url} if database_url else None)
    g.gw.stop()  # the daemon only: its database gets the records
    now = int(time.time() * 1000)
    if database_url:
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", database_url, "-c",
             "INSERT INTO uploads(account_id, path, state, size, bytes_received, sha256,"
             " client_address, started_at, completed_at, updated_at)"
             " SELECT %d, convert_to('/file' || lpad(i::text, 6, '0') || '.nsf', 'UTF8'),"
             " 'imported', 1048576, 1048576, lpad(to_hex(i), 64, '0'), '127.0.0.1', %d, %d, %d"
             " FROM generate_series(0, %d) i" % (g.acct["id"], now, now, now, RECORDS - 1)])
        run(["psql", "-X", "-q", database_url, "-c", "VACUUM ANALYZE uploads"])
    else:
        db = sqlite3.connect(os.path.join(g.dir, "var", "ftpsgate.db"))
        db.executemany("INSERT INTO uploads(account_id, path, state, size, bytes_received, sha256,"
                       " client_address, started_at, completed_at, updated_at) VALUES"
                       " (?, ?, 'imported', 1048576, 1048576, ?, '127.0.0.1', ?, ?, ?)",
                       ((g.acct["id"], "/file%06d.nsf" % i, "%064x" % i, now, now, now) for i in range(RECORDS)))
        db.commit()
        db.close()
    g.gw.start()
    end_uploads = background_uploads(g, uploads)
    time.sleep(1)
    url = "https://127.0.0.1:%d/api/v1/uploads?limit=100" % g.gw.admin_port
    from harness import TOKEN
    r = run(["wrk", "-t2", "-c16", "-d%ds" % (5 if QUICK else 15), "--latency",
             "-H", "Authorization: Bearer " + TOKEN, url])
    end_uploads()
    text = r.stdout
    rps = float(re.search(r"Requests/sec:\s+(\S+)", text).group(1))
    value, unit = re.search(r"99%\s+([0-9.]+)(us|ms|s)", text).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    res[key] = {"rps": rps, "p99_ms": p99_ms, "non_2xx": int(errors.group(1)) if errors else 0}
    log("  %.0f requests/s, p99 %.1f ms, %d non-2xx" % (rps, p99_ms, res[key]["non_2xx"]))
    g.stop()


CONSOLE_ACCOUNTS = knob("CONSOLE_ACCOUNTS", 2000, 2000)
CONSOLE_ROUNDS = knob("CONSOLE_ROUNDS", 5, 2)


def scenario_console(res):
    """The console in headless Chromium over CONSOLE_ACCOUNTS accounts and
    RECORDS uploads (SQLite), while PARALLEL uploads run: how long the
    overview (a full page load) and the accounts list (from the menu)
    take to show their content."""
    log("\n== console: overview and accounts list in Chromium over %d accounts and %d uploads"
        " while %d uploads run" % (CONSOLE_ACCOUNTS, RECORDS, PARALLEL))
    import sqlite3
    from test_console import browser
    from harness import TOKEN
    g = Ftpsgate("ftpsgate console")
    g.gw.stop()
    now = int(time.time() * 1000)
    db = sqlite3.connect(os.path.join(g.dir, "var", "ftpsgate.db"))
    pw_hash = db.execute("SELECT password_hash FROM accounts WHERE id = ?", (g.acct["id"],)).fetchone()[0]
    db.executemany("INSERT INTO accounts(username, password_hash, description, created_at,"
                   " password_changed_at, updated_at, require_encryption) VALUES (?, ?, ?, ?, ?, ?, 0)",
                   (("user%05d" % i, pw_hash, "department %d" % (i % 40), now, now, now)
                    for i in range(CONSOLE_ACCOUNTS - 1)))
    ids = [r[0] for r in db.execute("SELECT id FROM accounts")]
    # mostly imported; some rejected, failed and partial for the attention list
    states = ["imported"] * 96 + ["rejected", "failed", "partial", "verified"]
    db.executemany("INSERT INTO uploads(account_id, path, state, size, bytes_received, sha256,"
                   " client_address, started_at, completed_at, updated_at, error) VALUES"
                   " (?, ?, ?, 1048576, 1048576, ?, '127.0.0.1', ?, ?, ?, ?)",
                   ((ids[i % len(ids)], "/file%06d.nsf.age" % i, states[i % len(states)], "%064x" % i,
                     now - 7200000, now - 7200000, now - 7200000,
                     "not an age file" if states[i % len(states)] == "rejected" else None)
                    for i in range(RECORDS)))
    db.commit()
    db.close()
    g.gw.start()
    end_uploads = background_uploads(g, PARALLEL)
    tmp = os.path.join(WORK, "chromium")
    os.makedirs(tmp, exist_ok=True)
    b = browser(tmp)
    origin = "https://127.0.0.1:%d" % g.gw.admin_port

    def until(js, timeout=30):
        start = time.time()
        while not b.execute_script(js):
            if time.time() - start > timeout:
                raise RuntimeError("the console did not show: " + js)
            time.sleep(0.01)
        return time.time() - start

    overview, accounts = [], []
    try:
        b.get(origin + "/")
        until("return !!document.getElementById('token')")
        b.find_element("css selector", "#token").send_keys(TOKEN)
        b.find_element("css selector", "#sign-in-button").click()
        until("return !!document.querySelector('#running tr[data-upload]')")
        for _ in range(CONSOLE_ROUNDS):
            # the overview loaded from scratch: figures, running uploads, attention list
            start = time.time()
            b.get(origin + "/#/overview")
            until("return !!document.querySelector('#counts li') &&"
                  " !!document.querySelector('#running tr[data-upload]') &&"
                  " !!document.querySelector('#attention li[data-upload]')")
            overview.append(time.time() - start)
            # the accounts list, from the menu
            start = time.time()
            b.execute_script("location.hash = '#/accounts'")
            until("return document.querySelectorAll('#accounts tr[data-account]').length === 100")
            accounts.append(time.time() - start)
    finally:
        b.quit()
        end_uploads()
        g.stop()
    res["console"] = {"overview_s": statistics.median(overview), "accounts_s": statistics.median(accounts),
                      "overview_all": overview, "accounts_all": accounts,
                      "accounts": CONSOLE_ACCOUNTS, "uploads": RECORDS, "running": PARALLEL}
    log("  overview %.2f s, accounts list %.2f s (medians of %d; all: %s, %s)"
        % (res["console"]["overview_s"], res["console"]["accounts_s"], CONSOLE_ROUNDS,
           ["%.2f" % v for v in overview], ["%.2f" % v for v in accounts]))


def scenario_pg(res):
    """Records on PostgreSQL (a server of its own from scripts/pg-local.sh,
    fsync on) beside SQLite: the session storm alternating the two, and
    the API over as many records."""
    pg_local = os.path.join(ROOT, "scripts", "pg-local.sh")
    started = run(["sh", pg_local, "start"])
    conf = dict(l.split("=", 1) for l in started.stdout.splitlines() if "=" in l)
    url = conf["FTPSGATE_DATABASE_URL"]
    res["machine"]["postgresql"] = run(["psql", "-X", "-At", url, "-c", "SHOW server_version"]).stdout.strip()
    try:
        lite = Ftpsgate("ftpsgate sqlite")
        pg_env = {"FTPSGATE_DATABASE_URL": url}
        if os.environ.get("BENCH_PG_POOL"):
            pg_env["FTPSGATE_DATABASE_POOL"] = os.environ["BENCH_PG_POOL"]
        pg = Ftpsgate("ftpsgate postgresql", env=pg_env)
        try:
            scenario_sessions(res, [lite, pg], key="pg_sessions")
        finally:
            lite.stop()
            pg.stop()
        # the API over as many records, idle and while uploads run, the
        # two backends side by side; each PostgreSQL run a database of
        # its own (the storm's gateway has its account)
        for uploads, suffix in ((0, "_idle"), (PARALLEL, "")):
            db = "ftpsgate_api" + suffix
            run(["psql", "-X", "-q", "postgresql://postgres@127.0.0.1:%s/postgres" % conf["PG_PORT"],
                 "-c", "CREATE DATABASE %s OWNER ftpsgate" % db])
            scenario_api(res, key="pg_sqlite_api" + suffix, uploads=uploads)
            scenario_api(res, database_url=url.rsplit("/", 1)[0] + "/" + db, key="pg_api" + suffix,
                         uploads=uploads)
    finally:
        run(["sh", pg_local, "stop", conf["PG_DIR"]])


def scenario_s3(res):
    """The S3 bytes backend alone (bench/s3put: a file appended in 1 MiB
    pieces, parts sent while the next fills, completed) beside rclone's
    multipart upload of the same file to the same store (a Swift S3
    server of its own, scripts/s3-local.sh), part size by part size,
    alternating; the fastest part size is the default's evidence."""
    s3_local = os.path.join(ROOT, "scripts", "s3-local.sh")
    started = run(["sh", s3_local, "start"])
    conf = dict(l.split("=", 1) for l in started.stdout.splitlines() if "=" in l)
    res["machine"]["swift"] = run(["dpkg-query", "-W", "-f=${Version}", "swift-proxy"]).stdout.strip()
    res["machine"]["rclone"] = run(["rclone", "version"]).stdout.splitlines()[0]
    env = dict(os.environ, **conf)
    env.pop("AWS_CA_BUNDLE", None)  # rclone refuses one on a plain-HTTP endpoint
    env.update(RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Other",
               RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=conf["AWS_ACCESS_KEY_ID"],
               RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=conf["AWS_SECRET_ACCESS_KEY"],
               RCLONE_CONFIG_BENCH_ENDPOINT=conf["FTPSGATE_S3_ENDPOINT"],
               RCLONE_CONFIG_BENCH_REGION=conf["FTPSGATE_S3_REGION"],
               RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true")
    bucket = conf["FTPSGATE_STORAGE_URL"][len("s3://"):].split("/")[0]
    src = os.path.join(WORK, "s3.bin")
    if not os.path.exists(src) or os.path.getsize(src) != S3_MIB * MiB:
        with open("/dev/urandom", "rb") as r, open(src, "wb") as w:
            for _ in range(S3_MIB):
                w.write(r.read(MiB))
    s3put = os.path.join(ROOT, "build", "s3put")
    log("\n== S3: %d MiB, 4 parts in flight, part size by part size; ftpsgate's backend and rclone,"
        " alternating, %d rounds" % (S3_MIB, S3_ROUNDS))
    res["s3"] = {}
    try:
        for part in S3_PARTS:
            rates = {"ftpsgate": [], "rclone": []}
            for _ in range(S3_ROUNDS):
                out = subprocess.run([s3put, src, str(part), "4"], env=env, capture_output=True,
                                     text=True, timeout=600)
                if out.returncode == 0:
                    secs, nbytes = out.stdout.split()
                    rates["ftpsgate"].append(int(nbytes) / MiB / float(secs))
                else:
                    log("  s3put failed: %s" % out.stderr.strip()[-200:])
                t0 = time.time()
                out = subprocess.run(["rclone", "copyto", "-q", "--s3-chunk-size", "%dM" % part,
                                      "--s3-upload-concurrency", "4", src,
                                      "bench:%s/bench/rclone.bin" % bucket],
                                     env=env, capture_output=True, text=True, timeout=600)
                if out.returncode == 0:
                    rates["rclone"].append(S3_MIB / (time.time() - t0))
                else:
                    log("  rclone failed: %s" % out.stderr.strip()[-200:])
                subprocess.run(["rclone", "deletefile", "-q", "bench:%s/bench/rclone.bin" % bucket],
                               env=env, capture_output=True, timeout=120)
            entry = {k: median(v) if v else float("nan") for k, v in rates.items()}
            entry["ratio"] = entry["ftpsgate"] / entry["rclone"]
            res["s3"][str(part)] = entry
            log("  %2d MiB parts: ftpsgate %.0f MiB/s, rclone %.0f MiB/s (%.2f)"
                % (part, entry["ftpsgate"], entry["rclone"], entry["ratio"]))
        s3_ftps(res, conf, env, bucket)
    finally:
        run(["sh", s3_local, "stop", conf["S3_DIR"]])


class ClusterEntry:
    """One way into a cluster of scripts/cluster.sh: through HAProxy (to
    every node), or straight to one node. Clients come from many loopback
    addresses, as uploaders do (HAProxy keeps each address on one node)."""

    def __init__(self, name, host, port, acct, api, sources):
        self.name, self.host, self.port = name, host, port
        self.user, self.password = acct["username"], acct["password"]
        self.api, self.sources = api, sources

    def clear(self):
        """Every upload purged (its object deleted) once the pipeline is done."""
        deadline = time.time() + 300
        while time.time() < deadline:
            text = self.api("GET", "/metrics")[1]
            busy = sum(float(m) for m in re.findall(
                r'^ftpsgate_uploads\{state="(?:receiving|received|verifying|verified|importing)"\} (\S+)$',
                text, re.M))
            if busy == 0:
                break
            time.sleep(0.5)
        cursor = ""
        while True:
            doc = self.api("GET", "/uploads?limit=1000" + ("&cursor=" + cursor if cursor else ""))[1]
            for u in doc["items"]:
                if not u.get("purged_at"):
                    self.api("DELETE", "/uploads/%d" % u["id"])
            cursor = doc.get("next_cursor")
            if not cursor:
                return


def tree_cpu(roots):
    """CPU seconds of the processes roots and all their descendants, those
    reaped included (counted in their parent's cutime)."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stats[int(d)] = f.read().rsplit(")", 1)[1].split()
            except OSError:
                pass
    children = {}
    for pid, f in stats.items():
        children.setdefault(int(f[1]), []).append(pid)
    total, todo, seen = 0, [p for p in roots if p in stats], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        f = stats[pid]
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cluster_costs(conf, pids, pg_url, fn, idle=None):
    """Run fn(); what it cost: CPU seconds of the nodes, of PostgreSQL, of
    the S3 store (Swift's servers and their memcached) and of HAProxy, and
    PostgreSQL's transactions; less, with idle (CPU seconds and
    transactions per second), what the cluster spends anyway in as long
    (heartbeats, health checks, the pipeline's and retention's polling)."""
    cdir = conf["CLUSTER_DIR"]
    others = {
        "db": [read_pid(os.path.join(cdir, "pg", "data", "postmaster.pid"))],
        "store": [read_pid(os.path.join(cdir, "s3", n + ".pid"))
                  for n in ("proxy", "account", "container", "object")]
        + [read_pid(os.path.join(cdir, "s3", "run", "memcached.pid"))],
        "balancer": [read_pid(os.path.join(cdir, "haproxy.pid"))]}

    def cpu():
        return {"nodes": tree_cpu(pids), **{k: tree_cpu([p for p in v if p]) for k, v in others.items()}}

    def xacts():
        out = run(["psql", "-X", "-At", pg_url, "-c",
                   "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'ftpsgate'"])
        return int(out.stdout.strip() or 0)

    c0, x0, t0 = cpu(), xacts(), time.monotonic()
    result = fn()
    c1, x1, t = cpu(), xacts(), time.monotonic() - t0
    base_cpu, base_x = idle if idle else ({}, 0.0)
    return (result, {k: max(0.0, c1[k] - c0[k] - base_cpu.get(k, 0.0) * t) for k in c1},
            max(0.0, x1 - x0 - base_x * t))


def cpu_text(cpu, per, unit):
    """CPU seconds by part, divided by per, as "nodes 1.2 s, db 0.3 s..."."""
    return ", ".join("%s %.1f %s" % (k, v / per, unit) for k, v in cpu.items())


IDLE_S = 20


def scenario_cluster(res):
    """Three nodes behind HAProxy (scripts/cluster.sh: PostgreSQL, Swift's
    S3 API, PROXY protocol v2) against one of those nodes alone, the same
    records and store, alternating round by round: what the balancer and
    the spread cost on one machine (not scale: the same 2 cores), and per
    upload what a node, the database and the store spend."""
    cluster_sh = os.path.join(ROOT, "scripts", "cluster.sh")
    cdir = os.path.join(WORK, "cluster")
    run(["sh", cluster_sh, "down", cdir])
    env = dict(os.environ, FTPSGATE_IMPORT_COMMAND="/bin/true", **GW_DEFAULTS)
    env.setdefault("FTPSGATE_BIN", os.path.join(ROOT, "build", "ftpsgate"))
    # Each node's slice of passive ports holds every session at once, as
    # the one-node scenarios' range does: with cluster.sh's 100 per node,
    # 1,000 sessions at once get 425 (no passive port free) on one node.
    env.setdefault("CLUSTER_SLICE", str(max(100, SESSIONS + 100)))
    up = subprocess.run(["sh", cluster_sh, "up", cdir], env=env, capture_output=True, text=True,
                        timeout=600)
    if up.returncode:
        raise RuntimeError("cluster.sh up: %s" % up.stderr[-2000:])
    conf = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    try:
        api = Gateway.__new__(Gateway)
        host, port = conf["API"].split("//")[1].split("/")[0].rsplit(":", 1)
        api.host, api.admin_port, api.proc = host, int(port), None
        api.env = lambda: {}
        token = conf["ADMIN_TOKEN"]
        call = lambda m, p, b=None: Gateway.api(api, m, p, b, token=token)
        status, acct, _ = call("POST", "/accounts", {"username": "bench", "require_encryption": False})
        assert status == 201, acct
        sources = ["127.0.1.%d" % i for i in range(1, 201)]
        pub_host, pub_port = conf["FTPS"].rsplit(":", 1)
        n1_host, n1_port = conf["NODE_n1_FTPS"].rsplit(":", 1)
        through = ClusterEntry("HAProxy, 3 nodes", pub_host, int(pub_port), acct, call, sources)
        alone = ClusterEntry("one node", n1_host, int(n1_port), acct, call, sources)
        pids = [int(conf["NODE_%s_PID" % n]) for n in conf["NODES"].split(",")]
        pg_url = conf["FTPSGATE_DATABASE_URL"]
        res["cluster"] = {"sessions": {}, "parallel": {}, "costs": {}}
        log("\n== cluster: %d sessions at once and %d uploads of %d MiB at once; through HAProxy"
            " to 3 nodes, and straight to one of them, alternating, %d rounds"
            % (SESSIONS, PARALLEL, PARALLEL_MIB, SESSION_ROUNDS))
        payload = os.urandom(64 * 1024)
        par = os.path.join(WORK, "parallel.bin")
        _, idle_cpu, idle_x = cluster_costs(conf, pids, pg_url, lambda: time.sleep(IDLE_S))
        idle = ({k: v / IDLE_S for k, v in idle_cpu.items()}, idle_x / IDLE_S)
        res["cluster"]["idle"] = {"cpu_per_s": idle[0], "transactions_per_s": idle[1]}
        log("  idle, per second: %s; %.1f transactions (subtracted from the costs below)"
            % (cpu_text(idle_cpu, IDLE_S, "s"), idle[1]))
        walls = {e.name: [] for e in (through, alone)}
        rates = {e.name: [] for e in (through, alone)}
        costs = {"session": [], "upload": []}
        gib = PARALLEL * PARALLEL_MIB / 1024
        for r in range(SESSION_ROUNDS):
            for e in (through, alone):
                e.clear()
                (wall, failures), cpu, xacts = cluster_costs(conf, pids, pg_url,
                                                             lambda: session_storm(e, SESSIONS, payload),
                                                             idle)
                walls[e.name].append(wall if not failures else float("nan"))
                if e is through:
                    costs["session"].append(({k: v / SESSIONS for k, v in cpu.items()},
                                             xacts / SESSIONS))
                log("  round %d %-18s %d sessions: %6.1f s, %d failed %s; per session: %s,"
                    " %.1f transactions" % (r + 1, e.name, SESSIONS, wall, len(failures),
                                            failures[:2] if failures else "",
                                            cpu_text(cpu, SESSIONS / 1000, "ms"), xacts / SESSIONS))
                e.clear()
                (data, wall, ok), cpu, xacts = cluster_costs(conf, pids, pg_url,
                                                             lambda: upload_streams(e, par, PARALLEL),
                                                             idle)
                rates[e.name].append(PARALLEL * PARALLEL_MIB / wall if ok else float("nan"))
                if e is through:
                    costs["upload"].append(({k: v / gib for k, v in cpu.items()}, xacts / PARALLEL))
                log("  round %d %-18s %d x %d MiB: %.1f s (%.0f MiB/s)%s; per GiB: %s;"
                    " %.0f transactions per upload" % (r + 1, e.name, PARALLEL, PARALLEL_MIB, wall,
                                                       rates[e.name][-1], "" if ok else " FAILED",
                                                       cpu_text(cpu, gib, "s"), xacts / PARALLEL))
        through.clear()
        res["cluster"]["sessions"] = {k: median(v) for k, v in walls.items()}
        res["cluster"]["parallel"] = {k: median(v) for k, v in rates.items()}
        parts = ("nodes", "db", "store", "balancer")
        res["cluster"]["costs"] = {
            "cpu_ms_per_session": {k: median([c[0][k] * 1000 for c in costs["session"]]) for k in parts},
            "transactions_per_session": median([c[1] for c in costs["session"]]),
            "cpu_s_per_gib": {k: median([c[0][k] for c in costs["upload"]]) for k in parts},
            "transactions_per_upload": median([c[1] for c in costs["upload"]]),
            "s3_part_mib": int(GW_DEFAULTS.get("FTPSGATE_S3_PART_MIB", 16))}
        s, p = res["cluster"]["sessions"], res["cluster"]["parallel"]
        log("  %d sessions: %.2fx the time of one node; %d x %d MiB: %.2fx"
            % (SESSIONS, s[through.name] / s[alone.name], PARALLEL, PARALLEL_MIB,
               p[alone.name] / p[through.name]))
    finally:
        run(["sh", cluster_sh, "down", cdir])


def age_file(path, recipient, mib):
    """mib MiB of random bytes, encrypted with Debian's age to recipient."""
    with open("/dev/urandom", "rb") as r, open(path, "wb") as w:
        p = subprocess.Popen(["age", "-r", recipient], stdin=subprocess.PIPE, stdout=w)
        for _ in range(mib):
            p.stdin.write(r.read(MiB))
        p.stdin.close()
        if p.wait() != 0:
            raise RuntimeError("age failed")


def s3_ftps(res, conf, env, bucket):
    """age-encrypted uploads through FTPS into the S3 store (verified on
    the way, 226 after the multipart upload is completed and recorded),
    beside rclone's S3 upload of the same files to the same store: one
    upload, then 8 at once; alternating. The gateway's default part size
    and parts in flight; rclone with the same (16 MiB, 4)."""
    g = Ftpsgate("ftpsgate s3", env=dict(
        {k: v for k, v in conf.items() if k.startswith(("FTPSGATE_", "AWS_"))},
        FTPSGATE_STORAGE_URL="s3://%s/gw" % bucket, FTPSGATE_IMPORT_COMMAND="/bin/true"))
    sealed = g.gw.create_account(username="sealed", require_encryption=True)
    g.user, g.password = "sealed", sealed["password"]
    one = os.path.join(WORK, "s3-one.age")
    age_file(one, sealed["key"]["recipient"], S3_FTPS_MIB)
    many = os.path.join(WORK, "s3-many.age")
    age_file(many, sealed["key"]["recipient"], S3_PARALLEL_MIB)
    size_one, size_many = os.path.getsize(one) / MiB, os.path.getsize(many) / MiB

    def rclone(src, name):
        t0 = time.time()
        out = subprocess.run(["rclone", "copyto", "-q", "--s3-chunk-size", "16M",
                              "--s3-upload-concurrency", "4", src, "bench:%s/bench/%s" % (bucket, name)],
                             env=env, capture_output=True, text=True, timeout=1800)
        return out.returncode == 0, time.time() - t0

    def purge():
        """The uploads of the last round go (objects too): the store holds
        the same for each round."""
        g.settle()
        for u in g.gw.uploads(limit=100):
            g.gw.api("DELETE", "/uploads/%d" % u["id"])

    def rclone_clear():
        subprocess.run(["rclone", "delete", "-q", "bench:%s/bench" % bucket], env=env,
                       capture_output=True, timeout=600)

    log("\n== S3 through FTPS: one age-encrypted %d MiB upload, then 8 of %d MiB at once;"
        " ftpsgate (curl, verified) and rclone, alternating, %d rounds" % (S3_FTPS_MIB, S3_PARALLEL_MIB, S3_ROUNDS))
    rates = {"ftpsgate": [], "rclone": [], "ftpsgate8": [], "rclone8": []}
    peak_per_upload = []
    try:
        for _ in range(S3_ROUNDS):
            purge()
            ok, t, _ = curl_upload(g, one, "one.age")
            rates["ftpsgate"].append(size_one / t if ok else float("nan"))
            ok, t = rclone(one, "one.age")
            rates["rclone"].append(size_one / t if ok else float("nan"))
            rclone_clear()
            purge()
            base = status_kib(g.gw.proc.pid, "VmRSS")
            peak = [base]
            done = threading.Event()

            def watch():
                while not done.is_set():
                    peak.append(status_kib(g.gw.proc.pid, "VmRSS"))
                    time.sleep(0.05)

            w = threading.Thread(target=watch)
            w.start()
            span, wall, ok = upload_streams(g, many, 8)
            done.set()
            w.join()
            rates["ftpsgate8"].append(8 * size_many / wall if ok else float("nan"))
            peak_per_upload.append((max(peak) - base) / 8 / 1024)
            results, wall = at_once(lambda i: rclone(many, "m%d.age" % i), 8)
            rates["rclone8"].append(8 * size_many / wall if all(r[0] for r in results) else float("nan"))
            rclone_clear()
        entry = {k: median(v) for k, v in rates.items()}
        entry["ratio"] = entry["ftpsgate"] / entry["rclone"]
        entry["ratio8"] = entry["ftpsgate8"] / entry["rclone8"]
        entry["rss_per_upload_mib"] = median(peak_per_upload)
        entry["mib"], entry["parallel_mib"] = S3_FTPS_MIB, S3_PARALLEL_MIB
        res["s3_ftps"] = entry
        log("  one upload: ftpsgate %.0f MiB/s, rclone %.0f MiB/s (%.2f, target >= 0.80: %s)"
            % (entry["ftpsgate"], entry["rclone"], entry["ratio"], "holds" if entry["ratio"] >= 0.8 else "MISSED"))
        log("  8 at once: ftpsgate %.0f MiB/s, rclone %.0f MiB/s (%.2f, target >= 0.80: %s);"
            " daemon memory while they ran: %.0f MiB per upload"
            % (entry["ftpsgate8"], entry["rclone8"], entry["ratio8"],
               "holds" if entry["ratio8"] >= 0.8 else "MISSED", entry["rss_per_upload_mib"]))
    finally:
        g.stop()
        for f in (one, many):
            os.unlink(f)


def scenario_storm(res):
    log("\n== login storm: 1,000 failed logins at once; peak daemon memory")
    g = Ftpsgate("ftpsgate storm")
    time.sleep(1)
    base = status_kib(g.gw.proc.pid, "VmHWM")
    g.password = "wrong-password"
    wall, failures = session_storm(g, 1000, b"")
    peak = status_kib(g.gw.proc.pid, "VmHWM")
    res["storm"] = {"wall": wall, "refused": len(failures), "rss_before_kib": base, "rss_peak_kib": peak}
    log("  %d refused in %.1f s; daemon peak RSS %d KiB (%d before): argon2id holds at most"
        " workers x 19 MiB at once" % (len(failures), wall, peak, base))
    g.stop()


STORM_ADDRESSES = knob("STORM_ADDRESSES", 300, 100)
AGE_MIB = knob("AGE_MIB", 2048, 256)            # one age-encrypted upload
AGE_PARALLEL_MIB = knob("AGE_PARALLEL_MIB", 1024, 64)  # each of 8 at once
AGE_ROUNDS = knob("AGE_ROUNDS", 5, 2)
AGE_PARALLEL_ROUNDS = knob("AGE_PARALLEL_ROUNDS", 3, 1)
AGE_NAMES = ("raw TLS pipe, O_DIRECT", "ftpsgate, plaintext", "ftpsgate, age verified",
             "ftpsgate, age verified, C client")


class Account:
    """Another account of the same daemon, uploaded to as a server of its
    own in a scenario."""

    def __init__(self, g, name, doc):
        self.g, self.name = g, name
        self.user, self.password, self.port = doc["username"], doc["password"], g.port

    def clear(self):
        self.g.clear()


class LoadClient(Account):
    """The same, uploaded to with bench/ftpsload -f: a client as lean as
    the raw pipe's own (a file read in 256 KiB pieces into SSL_write),
    where curl spends more CPU per byte than the pipe's client."""

    def streams(self, src, n):
        t0 = time.time()
        r = subprocess.run([ftpsload(), "-f", src, "127.0.0.1", str(self.port), self.user,
                            self.password, str(n)], capture_output=True, text=True, timeout=1800)
        wall = time.time() - t0
        f = (r.stdout.splitlines() or ["0 0 1 nan nan"])[0].split()
        return float(f[4]), wall, r.returncode == 0


def scenario_age(res, pipe_direct):
    """The seed's workflow: age-encrypted files, each verified on the fly
    (every chunk authenticated against the account's key) besides its
    SHA-256 and fsync before 226; beside the same bytes uploaded to an
    account that takes plaintext (SHA-256 and fsync only), and the raw TLS
    pipe writing them with O_DIRECT and fsync. One daemon; alternating."""
    g = Ftpsgate("ftpsgate age")
    try:
        sealed = g.gw.create_account(username="sealed", require_encryption=True)
        plain = g.gw.create_account(username="plain")
        ftpsload()
        servers = [pipe_direct, Account(g, AGE_NAMES[1], plain), Account(g, AGE_NAMES[2], sealed),
                   LoadClient(g, AGE_NAMES[3], sealed)]
        one, many = os.path.join(WORK, "age-one.age"), os.path.join(WORK, "age-many.age")
        log("\n== age-encrypted uploads (encrypting %d and %d MiB with age)" % (AGE_MIB, AGE_PARALLEL_MIB))
        age_file(one, sealed["key"]["recipient"], AGE_MIB)
        age_file(many, sealed["key"]["recipient"], AGE_PARALLEL_MIB)
        size_one, size_many = os.path.getsize(one) / MiB, os.path.getsize(many) / MiB
        out = {}
        for n, src, size, rounds in ((1, one, size_one, AGE_ROUNDS),
                                     (PARALLEL, many, size_many, AGE_PARALLEL_ROUNDS)):
            log("  %d at once, %d rounds" % (n, rounds))
            rates = {x.name: [] for x in servers}
            cpu = {x.name: [] for x in servers}
            for r in range(rounds):
                for x in servers:
                    x.clear()
                    # CPU of the clients and pipes (reaped children) and of the daemon
                    k0, d0 = resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu_s([g.gw.proc.pid])
                    data, _, ok = upload_streams(x, src, n)
                    k1, d1 = resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu_s([g.gw.proc.pid])
                    clients = (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
                    server = d1 - d0 if isinstance(x, Account) else 0.0
                    rates[x.name].append(n * size / data if ok else float("nan"))
                    cpu[x.name].append((clients + server) * 1024 / (n * size))
                    log("    round %d %-33s %7.1f MiB/s; CPU s per GiB: %.2f (server %.2f)%s"
                        % (r + 1, x.name, rates[x.name][-1], cpu[x.name][-1], server * 1024 / (n * size),
                           "" if ok else " FAILED"))
            out[n] = {k: median(v) for k, v in rates.items()}
            out["cpu%d" % n] = {k: median(v) for k, v in cpu.items()}
        g.settle()
        text = g.gw.api("GET", "/metrics")[1]
        rejected = re.search(r'^ftpsgate_uploads\{state="rejected"\} (\S+)$', text, re.M)
        res["age"] = {"one": out[1], "parallel": out[PARALLEL], "cpu_one": out["cpu1"],
                      "cpu_parallel": out["cpu%d" % PARALLEL], "mib": AGE_MIB, "parallel_mib": AGE_PARALLEL_MIB,
                      "rejected": float(rejected.group(1)) if rejected else 0.0}
        for f in (one, many):
            os.unlink(f)
    finally:
        g.stop()


def scenario_honest(res):
    """An honest user's login while STORM_ADDRESSES addresses each try 3
    wrong passwords (argon2id every time; banned after the third): with
    its password in the credential cache (it logged in before), and
    without (the cache off), 5 logins each, medians."""
    out = {}
    for label, env in (("cached", {}), ("no cache", {"FTPSGATE_LOGIN_CACHE_S": "0"})):
        g = Ftpsgate("ftpsgate honest", env=dict(env, FTPSGATE_BAN_AFTER_FAILURES="3",
                                                  FTPSGATE_MAX_SESSIONS_PER_ADDRESS="0"))
        try:
            def timed_login():
                t0 = time.time()
                ftp = ftps.login("127.0.0.1", g.port, g.user, g.password, timeout=120, source="127.0.0.3")
                took = time.time() - t0
                ftp.quit()
                return took

            idle = [timed_login() for _ in range(5)]
            sources = ["127.0.%d.%d" % (20 + i // 200, 1 + i % 200) for i in range(STORM_ADDRESSES)]
            replies = {"530": 0, "421": 0, "other": 0}
            lock = threading.Lock()

            def attack(chunk):
                for src in chunk:
                    try:
                        ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=300)
                        ftp.connect("127.0.0.1", g.port, source_address=(src, 0))
                        for _ in range(3):
                            try:
                                ftp.login("bench", "wrong password")
                                kind = "other"
                            except ftplib.all_errors as e:
                                kind = str(e)[:3] if str(e)[:3] in replies else "other"
                            with lock:
                                replies[kind] += 1
                            if kind != "530":
                                break
                        ftp.close()
                    except (OSError, EOFError):
                        with lock:
                            replies["other"] += 1

            threads = [threading.Thread(target=attack, args=(sources[i::100],)) for i in range(100)]
            t0 = time.time()
            for t in threads:
                t.start()
            time.sleep(1)
            during = []
            for _ in range(5):
                during.append(timed_login())
                time.sleep(0.2)
            for t in threads:
                t.join(900)
            storm_s = time.time() - t0
            _, doc, _ = g.gw.api("GET", "/bans")
            banned = sum(1 for b in doc["items"] if b["kind"] == "address" and b["banned_until"])
            out[label] = {"idle_s": median(idle), "during_s": median(during), "during_all": during,
                          "storm_s": storm_s, "replies": replies, "banned": banned}
            log("  %-9s honest login idle %.3f s, during the storm %.3f s (median of 5: %s);"
                " storm of %d addresses x 3 took %.1f s: %d x 530, %d x 421, %d other; %d addresses banned"
                % (label, median(idle), median(during), " ".join("%.3f" % x for x in during),
                   STORM_ADDRESSES, storm_s, replies["530"], replies["421"], replies["other"], banned))
        finally:
            g.stop()
    res["honest"] = out


def scenario_attack(res, src100):
    log("\n== a %d MiB upload idle and under attack (login storm + 500 slow clients)" % ATTACK_MIB)
    g = Ftpsgate("ftpsgate attack", env={"FTPSGATE_BAN_AFTER_FAILURES": "10"})
    idle = []
    for _ in range(3):
        g.clear()
        ok, t, _ = curl_upload(g, src100, "honest.bin")
        idle.append(ATTACK_MIB / t if ok else float("nan"))
    stop = threading.Event()
    held = []

    def storm(k):
        i = 0
        while not stop.is_set():
            addr = "127.0.%d.%d" % (10 + k, 1 + i % 250)
            i += 1
            try:
                ftps.login("127.0.0.1", g.port, "bench", "wrong", timeout=10, source=addr)
            except Exception:
                pass

    for k in range(500):  # slow clients: connected, silent
        try:
            s = socket.create_connection(("127.0.0.1", g.port), 5, source_address=("127.0.1.%d" % (1 + k % 200), 0))
            held.append(s)
        except OSError:
            pass
    threads = [threading.Thread(target=storm, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    time.sleep(1)
    attacked = []
    for _ in range(3):
        g.clear()
        ok, t, _ = curl_upload(g, src100, "honest.bin")
        attacked.append(ATTACK_MIB / t if ok else float("nan"))
    stop.set()
    for t in threads:
        t.join()
    for s in held:
        s.close()
    text = g.gw.api("GET", "/metrics")[1]
    failed = float(re.search(r'^ftpsgate_logins_total\{result="failed"\} (\S+)$', text, re.M).group(1))
    res["attack"] = {"idle": median(idle), "attacked": median(attacked), "failed_logins": failed,
                     "slow_clients": len(held)}
    log("  idle %.1f MiB/s, under attack %.1f MiB/s (%.2f of idle); %d failed logins, %d slow clients held"
        % (median(idle), median(attacked), median(attacked) / median(idle), failed, len(held)))
    g.stop()


# ---------------------------------------------------------------- report

def limit(table):
    """The raw pipe's better figure (page cache or O_DIRECT): the limit."""
    values = [table[n] for n in PIPES if table.get(n) == table.get(n) and table.get(n)]
    return max(values) if values else None


def report(res):
    lines = []
    p = limit(res.get("stream", {}))
    lines.append("| | single %d MiB stream (ratio to the limit) | %d x %d MiB parallel | %d sessions"
                 " at once (login, STOR 64 KiB, QUIT) | idle logged-in TLS session |"
                 % (STREAM_MIB, PARALLEL, PARALLEL_MIB, SESSIONS))
    lines.append("|---|---|---|---|---|")
    names = list(PIPES) + ["ftpsgate", "ftpsgate, login cache off", "vsftpd", "ProFTPD", "pure-ftpd"]
    for n in names:
        cells = []
        s = res.get("stream", {}).get(n)
        cells.append("%.0f MiB/s (%.2f)" % (s, s / p) if s and p else "")
        s8 = res.get("parallel", {}).get(n)
        p8 = limit(res.get("parallel", {}))
        cells.append("%.0f MiB/s (%.2f)" % (s8, s8 / p8) if s8 and p8 else "")
        se = res.get("sessions", {}).get(n)
        cells.append("%.1f s, %d failed" % (se["wall"], se["failed"]) if se else "")
        idle = res.get("idle", {}).get(n)
        cells.append("%.1f KiB PSS (at %d sessions)" % (idle[-1]["kib_per_session"], idle[-1]["sessions"])
                     if idle else "")
        if any(cells):
            lines.append("| %s | %s |" % (n, " | ".join(cells)))
    lines.append("")
    checks = []
    st, pa, se = res.get("stream", {}), res.get("parallel", {}), res.get("sessions", {})
    if "ftpsgate" in st and limit(st):
        checks.append(("single stream >= 0.90 of the pipe", st["ftpsgate"] / limit(st), 0.90))
        sw = res.get("stream_wall", {})
        if sw.get("ftpsgate") and limit(sw):
            checks.append(("  the same by wall clock (with each client's setup)", sw["ftpsgate"] / limit(sw), None))
        for other in ("vsftpd", "ProFTPD", "pure-ftpd"):
            if st.get(other):
                checks.append(("single stream: ftpsgate / %s" % other, st["ftpsgate"] / st[other], None))
    if "ftpsgate" in pa and limit(pa):
        checks.append(("%d parallel >= 0.90 of %d pipes" % (PARALLEL, PARALLEL),
                       pa["ftpsgate"] / limit(pa), 0.90))
        pw = res.get("parallel_wall", {})
        if pw.get("ftpsgate") and limit(pw):
            checks.append(("  the same by wall clock (with each client's setup)", pw["ftpsgate"] / limit(pw), None))
    if "ftpsgate" in se and "vsftpd" in se:
        checks.append(("sessions: wall time <= 0.5 of vsftpd's", se["ftpsgate"]["wall"] / se["vsftpd"]["wall"],
                       -0.5))
        if "ftpsgate, login cache off" in se:
            checks.append(("sessions, login cache off: wall time / vsftpd's",
                           se["ftpsgate, login cache off"]["wall"] / se["vsftpd"]["wall"], None))
    if "load" in res:
        ld = res["load"]
        one, many = LOAD_SESSIONS
        a, b = ld.get("ftpsgate %d" % one), ld.get("ftpsgate %d" % many)
        if a and b:
            checks.append(("ftpsload %d sessions: wall s (C client)" % one, a["wall"], None))
            checks.append(("ftpsload %d sessions: wall s" % many, b["wall"], None))
            checks.append(("  failed (must be 0)", a["failed"] + b["failed"], -0))
            checks.append(("  %d time / %d time (<= 5)" % (many, one), b["wall"] / a["wall"], -5))
            checks.append(("  server CPU ms a session (%d, %d)" % (one, many), a["server_ms"], None))
            checks.append(("", b["server_ms"], None))
            checks.append(("  client CPU ms a session", a["client_ms"], None))
        v = ld.get("vsftpd %d" % one)
        if a and v:
            checks.append(("ftpsload %d sessions: ftpsgate / vsftpd time" % one, a["wall"] / v["wall"], None))
            checks.append(("  vsftpd: failed, server CPU ms a session", v["failed"], None))
            checks.append(("", v["server_ms"], None))
    if "idle" in res and "ftpsgate" in res["idle"]:
        last = res["idle"]["ftpsgate"][-1]
        checks.append(("%d idle sessions <= 64 KiB each" % last["sessions"], last["kib_per_session"], -64))
        checks.append(("  <= 16 KiB each (the age workload's target)", last["kib_per_session"], -16))
    if "api" in res:
        checks.append(("API requests/s >= 2000", res["api"]["rps"], 2000))
        checks.append(("API p99 ms <= 50", res["api"]["p99_ms"], -50))
    if "pg_sessions" in res:
        ps = res["pg_sessions"]
        checks.append(("PostgreSQL: sessions wall <= 1.5 x SQLite's",
                       ps["ftpsgate postgresql"]["wall"] / ps["ftpsgate sqlite"]["wall"], -1.5))
        checks.append(("PostgreSQL: sessions failed (must be 0)",
                       ps["ftpsgate postgresql"]["failed"] + ps["ftpsgate sqlite"]["failed"], -0))
    if "pg_api_idle" in res:
        checks.append(("PostgreSQL: API requests/s >= 2000 (idle)", res["pg_api_idle"]["rps"], 2000))
        checks.append(("  the same / SQLite's", res["pg_api_idle"]["rps"] / res["pg_sqlite_api_idle"]["rps"],
                       None))
    if "pg_api" in res:
        checks.append(("PostgreSQL: API requests/s, %d uploads running" % PARALLEL, res["pg_api"]["rps"], None))
        checks.append(("  the same / SQLite's", res["pg_api"]["rps"] / res["pg_sqlite_api"]["rps"], None))
    for part, entry in sorted(res.get("s3", {}).items(), key=lambda kv: int(kv[0])):
        checks.append(("S3 backend / rclone, %s MiB parts" % part, entry["ratio"], None))
    if "s3_ftps" in res:
        e = res["s3_ftps"]
        checks.append(("S3: one %d MiB age upload via FTPS / rclone" % e["mib"], e["ratio"], 0.8))
        checks.append(("S3: 8 x %d MiB age uploads via FTPS / rclone" % e["parallel_mib"], e["ratio8"], 0.8))
        checks.append(("S3: daemon MiB per running upload", e["rss_per_upload_mib"], None))
    if "cluster" in res:
        c = res["cluster"]
        s, p = c["sessions"], c["parallel"]
        checks.append(("cluster: %d sessions, HAProxy+3 nodes / 1 node (time)" % SESSIONS,
                       s["HAProxy, 3 nodes"] / s["one node"], -1.3))
        checks.append(("cluster: %d x %d MiB, HAProxy+3 nodes / 1 node (time)" % (PARALLEL, PARALLEL_MIB),
                       p["one node"] / p["HAProxy, 3 nodes"], -1.3))
        for part, cost in c.get("idle", {}).get("cpu_per_s", {}).items():
            checks.append(("cluster: idle, CPU s per s, %s" % part, cost, None))
        if "idle" in c:
            checks.append(("cluster: idle, database transactions per s",
                           c["idle"]["transactions_per_s"], None))
        for part, cost in c["costs"]["cpu_ms_per_session"].items():
            checks.append(("cluster: CPU ms per session, %s" % part, cost, None))
        checks.append(("cluster: database transactions per session",
                       c["costs"]["transactions_per_session"], None))
        for part, cost in c["costs"]["cpu_s_per_gib"].items():
            checks.append(("cluster: CPU s per GiB uploaded, %s" % part, cost, None))
        checks.append(("cluster: database transactions per %d MiB upload" % PARALLEL_MIB,
                       c["costs"]["transactions_per_upload"], None))
    if "console" in res:
        c = res["console"]
        checks.append(("console over %d accounts, %d uploads, %d running: overview opens (s)"
                       % (c["accounts"], c["uploads"], c["running"]), c["overview_s"], -1.0))
        checks.append(("console: accounts list opens (s)", c["accounts_s"], -1.0))
    if "age" in res:
        a = res["age"]
        for key, n, mib, target in (("one", 1, a["mib"], 0.90), ("parallel", PARALLEL, a["parallel_mib"], 0.85)):
            e = a[key]
            checks.append(("age %d x %d MiB, verified >= %.2f of the O_DIRECT pipe" % (n, mib, target),
                           e[AGE_NAMES[2]] / e[AGE_NAMES[0]], target))
            checks.append(("  verified / plaintext (>= 0.95)" if n == 1 else "  verified / plaintext",
                           e[AGE_NAMES[2]] / e[AGE_NAMES[1]], 0.95 if n == 1 else None))
            if e.get(AGE_NAMES[3]):
                checks.append(("  the same with the C client / the pipe", e[AGE_NAMES[3]] / e[AGE_NAMES[0]], None))
        checks.append(("  age uploads rejected (must be 0)", a["rejected"], -0))
    if "honest" in res:
        h = res["honest"]
        checks.append(("honest login during a %d-address storm, s (cached)" % STORM_ADDRESSES,
                       h["cached"]["during_s"], -0.3))
        checks.append(("  the same without the credential cache, s", h["no cache"]["during_s"], None))
        checks.append(("  attackers banned (of %d)" % STORM_ADDRESSES, h["cached"]["banned"],
                       STORM_ADDRESSES))
    if "attack" in res:
        checks.append(("under attack >= 0.5 of idle throughput",
                       res["attack"]["attacked"] / res["attack"]["idle"], 0.5))
    for name, value, target in checks:
        verdict = "" if target is None else ("holds" if (value >= target if target > 0 else value <= -target)
                                             else "MISSED")
        lines.append("%-52s %10.2f  %s" % (name, value, verdict))
    return "\n".join(lines)


def plot(res):
    if shutil.which("gnuplot") is None or "idle" not in res or "stream" not in res:
        return

    def dataset(path, series):
        """One gnuplot data block per named series that has points; the
        plot command that draws them."""
        blocks = [(name, pts) for name, pts in series if pts]
        with open(path, "w") as f:
            for name, pts in blocks:
                f.write("# %s\n" % name)
                for x, y in pts:
                    f.write("%d %.2f\n" % (x, y))
                f.write("\n\n")
        return ", ".join("'%s' index %d with linespoints title '%s'" % (path if i == 0 else "", i, name)
                         for i, (name, _) in enumerate(blocks))

    streams = dataset(os.path.join(OUT, "streams.dat"), [
        (name, [(n, res[key][name]) for n, key in ((1, "stream"), (2, "parallel2"), (4, "parallel4"),
                                                    (PARALLEL, "parallel"))
                if res.get(key, {}).get(name)])
        for name in PIPES + ("ftpsgate", "vsftpd", "ProFTPD", "pure-ftpd")])
    idle = dataset(os.path.join(OUT, "idle.dat"), [
        (name, [(p["sessions"], p["kib_per_session"]) for p in points]) for name, points in res["idle"].items()])
    script = """
set terminal pngcairo size 1100,420 font ",10" noenhanced
set output '%s'
set multiplot layout 1,2
set title 'Upload throughput (aggregate) by streams at once'
set xlabel 'streams at once'; set ylabel 'MiB/s'; set key bottom right; set grid
plot %s
set title 'Server memory per idle logged-in TLS session'
set xlabel 'sessions held'; set ylabel 'KiB PSS per session'; set logscale xy; set key top right
plot %s
unset multiplot
""" % (os.path.join(OUT, "benchmarks.png"), streams, idle)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    global CERT, KEY
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (it creates a local user for vsftpd and runs it)")
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    # 8 streams of PARALLEL_MIB at once (removed between rounds), the
    # source files, and the API scenario's uploads
    need = (PARALLEL * PARALLEL_MIB + STREAM_MIB + PARALLEL_MIB + ATTACK_MIB) * MiB + 8 * 1024 * MiB
    st = os.statvfs(WORK)
    if st.f_bavail * st.f_frsize < need:
        sys.exit("bench.py: %s has %.1f GiB free, the run needs about %.1f GiB"
                 % (WORK, st.f_bavail * st.f_frsize / 1024 / MiB, need / 1024 / MiB))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 2 * IDLE + 1000)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):  # no CAP_SYS_RESOURCE: the hard limit it is
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    CERT, KEY = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    if not os.path.exists(KEY):
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", KEY, "-out", CERT, "-days", "30", "-subj", "/CN=127.0.0.1"])
    src = os.path.join(WORK, "stream.bin")
    for path, mib in ((src, STREAM_MIB), (os.path.join(WORK, "parallel.bin"), PARALLEL_MIB),
                      (os.path.join(WORK, "attack.bin"), ATTACK_MIB)):
        if not os.path.exists(path) or os.path.getsize(path) != mib * MiB:
            with open("/dev/urandom", "rb") as r, open(path, "wb") as w:
                for _ in range(mib):
                    w.write(r.read(MiB))
    res = {"machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                       "curl": run(["curl", "--version"]).stdout.splitlines()[0]},
           "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    t0 = time.time()
    want = lambda s: not ONLY or s in ONLY
    pipe, pipe_direct = Pipe(), Pipe(direct=True)
    pipe_curl = Pipe(curl=True)
    gw = Ftpsgate()
    vs = Vsftpd()
    others = []
    try:
        for name in OTHERS:
            others.append(OTHER_SERVERS[name]())
    except Exception:
        vs.stop()
        gw.stop()
        for o in others:
            o.stop()
        raise
    res["machine"]["vsftpd"] = vs.version
    for o in others:
        res["machine"][o.name] = o.version
    log("ftpsgate on %d, %s; work in %s" % (gw.port, ", ".join("%s %s on %d" % (s.name, s.version, s.port)
                                                              for s in [vs] + others), WORK))
    try:
        if want("stream"):
            scenario_stream(res, [pipe, pipe_direct, pipe_curl, gw, vs] + others, src)
        if want("parallel"):
            par = os.path.join(WORK, "parallel.bin")
            everyone = [pipe, pipe_direct, pipe_curl, gw, vs] + others
            scenario_parallel(res, everyone, par, PARALLEL, PARALLEL_MIB, PARALLEL_ROUNDS, "parallel")
            for n in (2, 4):
                scenario_parallel(res, everyone, par, n, PARALLEL_MIB, 1, "parallel%d" % n)
        if want("sessions"):
            nocache = Ftpsgate("ftpsgate, login cache off", env={"FTPSGATE_LOGIN_CACHE_S": "0"})
            try:
                scenario_sessions(res, [gw, nocache, vs] + others)
            finally:
                nocache.stop()
        if want("load"):
            scenario_load(res, vs)
        if want("idle"):
            # a fresh daemon: memory freed by the scenarios before would
            # be reused and hide what sessions cost
            gw.stop()
            # idle sessions hold one descriptor each: as many as are
            # asked for, whatever the default fits for busy ones (4 each)
            fresh = Ftpsgate("ftpsgate idle", env={"FTPSGATE_MAX_SESSIONS": str(IDLE + 100)})
            fresh.name = "ftpsgate"
            try:
                scenario_idle(res, fresh, [vs] + others)
            finally:
                fresh.stop()
    finally:
        if gw.gw.proc:
            gw.stop()
        for s in [vs] + others:
            s.stop()
    if want("api"):
        scenario_api(res)
    if want("console"):
        scenario_console(res)
    if want("storm"):
        scenario_storm(res)
    if want("age"):
        scenario_age(res, Pipe(direct=True))
    if want("honest"):
        log("\n== an honest login during a storm of failed logins from %d addresses" % STORM_ADDRESSES)
        scenario_honest(res)
    if want("attack"):
        scenario_attack(res, os.path.join(WORK, "attack.bin"))
    if want("pg"):
        scenario_pg(res)
    if want("s3"):
        scenario_s3(res)
    if want("cluster"):
        scenario_cluster(res)
    res["seconds"] = time.time() - t0
    table = report(res)
    log("\n" + table)
    log("\nwhole run: %.0f s" % res["seconds"])
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(table + "\n")
    plot(res)


if __name__ == "__main__":
    main()
