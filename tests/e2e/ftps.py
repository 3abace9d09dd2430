"""Python ftplib clients for implicit FTPS, as uploaders use them.

Stock ftplib speaks explicit FTPS only and does not resume the control
connection's TLS session on data connections; ImplicitFTPS does both.
"""
import ftplib
import io
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
    # PROXY protocol headers sent before TLS, as a load balancer would:
    # on the control connection, and on each data connection
    proxy_header = None
    data_proxy_header = None

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        self.source_address = source_address  # data connections come from there too
        raw = socket.create_connection((self.host, self.port), self.timeout,
                                       source_address=source_address)
        self.af = raw.family
        if self.proxy_header:
            raw.sendall(self.proxy_header)
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd, rest=None):
        if self.data_proxy_header is None:
            conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        else:
            conn, size = self._proxied_transfercmd(cmd, rest)
        if self._prot_p:
            session = self.sock.session if self.reuse_session else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=session)
        return conn, size


    def _proxied_transfercmd(self, cmd, rest):
        # ftplib's own sends the command before anything on the data
        # connection; a balancer sends its header as soon as it connects
        host, port = self.makepasv()
        conn = socket.create_connection((host, port), self.timeout,
                                        source_address=self.source_address)
        try:
            conn.sendall(self.data_proxy_header)
            if rest is not None:
                self.sendcmd("REST %s" % rest)
            resp = self.sendcmd(cmd)
            if resp[0] == "2":
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)
        except BaseException:
            conn.close()
            raise
        return conn, ftplib.parse150(resp) if resp[:3] == "150" else None


def proxy_v1(src, dst, sport=40000, dport=990):
    """A PROXY protocol v1 header naming src as the client."""
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def proxy_v2(src, dst, sport=40000, dport=990, local=False, tlv=b""):
    """A PROXY protocol v2 header (IPv4) naming src as the client."""
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if local:
        return sig + bytes([0x20, 0x00, 0, 0])
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + tlv
    return sig + bytes([0x21, 0x11]) + len(body).to_bytes(2, "big") + body


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


def stor_reply(ftp, name, data):
    """The final reply to STOR name with data, as text: a success's, an
    ftplib error's, or, when the server dropped the data connection under
    the client, the verdict read from the control connection."""
    try:
        return ftp.storbinary("STOR " + name, io.BytesIO(data))
    except ftplib.Error as e:
        return str(e)
    except OSError:
        try:
            return ftp.getresp()
        except ftplib.Error as e:
            return str(e)


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
