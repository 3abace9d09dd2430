"""Python ftplib clients for implicit FTPS, as uploaders use them.

Stock ftplib speaks explicit FTPS only and does not resume the control
connection's TLS session on data connections; ImplicitFTPS does both.
"""
import ftplib
import socket
import ssl


def client_context(tls_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls_version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls_version == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ImplicitFTPS(ftplib.FTP_TLS):
    """FTP_TLS over implicit TLS, reusing the control session for data."""

    reuse_session = True

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((self.host, self.port), self.timeout,
                                       source_address=source_address)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.sock.session if self.reuse_session else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=session)
        return conn, size


def login(host, port, user, password, tls_version=None, timeout=30, source=None):
    """Logged in with PROT P; source is the client address to connect from."""
    ftp = ImplicitFTPS(context=client_context(tls_version), timeout=timeout)
    ftp.connect(host, port, source_address=(source, 0) if source else None)
    try:
        ftp.login(user, password)
        ftp.prot_p()
    except BaseException:
        ftp.close()
        raise
    return ftp


def stor_refused(ftp, name, data):
    """STOR that the server is expected to refuse once bytes arrive: the
    final reply's text (an ftplib.error_perm's), or AssertionError if the
    upload was taken. The client may see the data connection end before it
    has sent everything; that is not the test's concern."""
    conn = ftp.transfercmd("STOR " + name)
    try:
        conn.sendall(data)
        conn.unwrap()
    except OSError:
        pass
    conn.close()
    try:
        reply = ftp.voidresp()
    except ftplib.error_perm as e:
        return str(e)
    raise AssertionError("STOR %s was not refused: %s" % (name, reply))
