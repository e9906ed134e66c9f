"""HTTP web server (port 80): Apache by default, nginx or IIS by config or persona.

What runs: the http group core (`_http_core`: bounded HTTP/1.x parsing, keep-alive,
chunked bodies) with a site that answers as a stock server would: the distribution's
default index page, 404/403/405 error pages in that server's own format and header order,
ETag/Last-Modified derived from the persona, login forms at the usual admin paths and
Basic-auth areas (/private, /backup, /webdav: 401 with `WWW-Authenticate: Basic
realm="Restricted Area"`). No path answers 200 unless a server would (index, login pages).
nmap -sV names "Apache httpd 2.4.57 ((Debian))" (or nginx, or Microsoft IIS httpd).

Config (`service_config.http` / `.https`): `server_header` (default "Apache/2.4.57
(Debian)"; naming nginx gives nginx pages, Microsoft-IIS gives IIS pages; a Windows persona
with the default or an empty header looks like "Microsoft-IIS/10.0"), `page_title` and
`page_body` (replace the stock index page).

Events: `request` for every request (`method`, `path`, `query`, `version`, `host`,
`user_agent`, `content_type`, `body` (first 256 bytes) and `bytes` for a body); `login`
(`username`, `password`, `success=false`, `mech=form`, `path`) for a form carrying a
password posted anywhere (urlencoded or multipart; field names as login pages use them);
`login` (`mech=basic` with `username`/`password`, or the scheme and `token`) for every
Authorization header; `data` for malformed requests (answered 400/413/414 and closed).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from decnet_emu.protocols._http_core import (
    Request,
    Response,
    form_credentials,
    http_date,
    reason_phrase,
    serve,
)
from decnet_emu.protocols._http_pages import (
    APACHE_INDEX,
    APACHE_MESSAGES,
    IIS_INDEX,
    LOGIN_FORM,
    NGINX_INDEX,
    iis_error_page,
)
from decnet_emu.session import Session

DEFAULT_HEADER = "Apache/2.4.57 (Debian)"
DEFAULT_TITLE = "It works!"
IIS_HEADER = "Microsoft-IIS/10.0"
LOGIN_PATHS = frozenset({"/login", "/login/", "/login.php", "/admin", "/admin/", "/admin.php",
                         "/admin/login", "/admin/login.php", "/wp-login.php", "/user/login",
                         "/administrator", "/administrator/", "/signin", "/auth/login",
                         "/manager/html", "/phpmyadmin", "/phpmyadmin/", "/login.html"})
INDEX_PATHS = frozenset({"/", "/index.html", "/index.htm", "/iisstart.htm"})
PROTECTED = ("/private", "/backup", "/webdav")  # Basic-auth areas (realm BASIC_REALM)
BASIC_REALM = "Restricted Area"

@dataclass
class WebSite:
    """One web server's look: its Server header, style, pages and validators."""

    server: str
    style: str  # apache | nginx | iis
    title: str
    body: str | None
    hostname: str
    fqdn: str
    mtime: float
    csrf: str
    port: str = "80"
    echo_version: bool = False

    # -- headers ------------------------------------------------------------------------
    def _headers(self, request: Request | None, body: bytes, content_type: str,
                 static: bool = False, status: int = 200) -> list[tuple[str, str]]:
        keep = request is not None and request.keep_alive and status not in (400, 413, 414)
        length = str(len(body))
        etag = self._etag(len(body))
        server = [("Server", self.server)] if self.server else []
        if self.style == "nginx":
            out = [*server, ("Date", http_date()), ("Content-Type", content_type),
                   ("Content-Length", length)]
            if static:
                out.append(("Last-Modified", http_date(self.mtime)))
            out.append(("Connection", "keep-alive" if keep else "close"))
            if static:
                out += [("ETag", etag), ("Accept-Ranges", "bytes")]
            return out
        if self.style == "iis":
            out = [("Content-Type", content_type)]
            if static:
                out += [("Last-Modified", http_date(self.mtime)), ("Accept-Ranges", "bytes"),
                        ("ETag", etag)]
            out += [*server, ("Date", http_date()), ("Content-Length", length)]
            if not keep:
                out.append(("Connection", "close"))
            return out
        out = [("Date", http_date()), *server]
        if static:
            out += [("Last-Modified", http_date(self.mtime)), ("ETag", etag),
                    ("Accept-Ranges", "bytes")]
        out.append(("Content-Length", length))
        if static:
            out.append(("Vary", "Accept-Encoding"))
        if keep:
            out += [("Keep-Alive", "timeout=5, max=100"), ("Connection", "Keep-Alive")]
        else:
            out.append(("Connection", "close"))
        out.append(("Content-Type", content_type))
        return out

    def _etag(self, size: int) -> str:
        if self.style == "nginx":
            return f'"{int(self.mtime):x}-{size:x}"'
        if self.style == "iis":
            return f'"{int(self.mtime * 1000) & 0xFFFFFFFFFFFF:x}d8:0"'
        return f'"{size:x}-{int(self.mtime * 1_000_000):x}"'

    # -- pages --------------------------------------------------------------------------
    def _index(self) -> bytes:
        if self.body is None and self.title == DEFAULT_TITLE:
            page = {"nginx": NGINX_INDEX, "iis": IIS_INDEX}.get(self.style, APACHE_INDEX)
            return page.encode()
        body = self.body if self.body is not None else f"<h1>{html.escape(self.title)}</h1>"
        return (f"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n</head>\n<body>\n{body}\n"
                f"</body>\n</html>\n").encode()

    def _login_page(self, path: str, username: str = "", failed: bool = False) -> bytes:
        error = '<p class="err">Invalid username or password.</p>' if failed else ""
        heading = "Administration" if "admin" in path else f"Sign in to {self.hostname}"
        return LOGIN_FORM.format(title=html.escape(f"{self.hostname} - Sign in"),
                                  heading=html.escape(heading), action=html.escape(path),
                                  username=html.escape(username), csrf=self.csrf,
                                  error=error).encode()

    def _error_page(self, status: int, request: Request | None) -> tuple[bytes, str]:
        phrase = reason_phrase(status)
        if self.style == "nginx":
            phrase = "Authorization Required" if status == 401 else phrase
            tail = f"<hr><center>{self.server or 'nginx'}</center>\n"
            page = (f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
                    f"<center><h1>{status} {phrase}</h1></center>\r\n{tail}</body>\r\n"
                    "</html>\r\n")
            return page.encode(), "text/html"
        if self.style == "iis":
            return iis_error_page(status, phrase).encode(), "text/html"
        method = html.escape(request.method if request else "GET")
        message = APACHE_MESSAGES.get(status, f"<p>{phrase}</p>").format(method=method)
        address = ""
        if self.server:
            host, port = self._server_name(request)
            address = f"<address>{html.escape(self.server)} Server at {host} Port {port}" \
                      "</address>\n"
        page = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
                f"<title>{status} {phrase}</title>\n</head><body>\n<h1>{phrase}</h1>\n"
                f"{message}\n<hr>\n{address}</body></html>\n")
        return page.encode(), "text/html; charset=iso-8859-1"

    def _server_name(self, request: Request | None) -> tuple[str, str]:
        host = request.header("host") if request else ""
        name, _, port = host.partition(":")
        safe = "".join(c for c in name if c.isalnum() or c in ".-")[:64] or self.fqdn
        return html.escape(safe), port if port.isdigit() else self.port

    def plain_http_on_tls(self, request: Request | None) -> Response | None:
        """The answer to plain HTTP on the TLS port (None: IIS's http.sys just resets)."""
        if self.style == "iis":
            return None
        if self.style == "nginx":
            tail = f"<hr><center>{self.server or 'nginx'}</center>\r\n"
            page = ("<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port"
                    "</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>"
                    "\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
                    f"{tail}</body>\r\n</html>\r\n").encode()
            return Response(400, self._headers(None, page, "text/html", status=400), page,
                            close=True)
        address = ""
        if self.server:
            host, _ = self._server_name(request)
            address = f"<address>{html.escape(self.server)} Server at {host} Port " \
                      f"{self.port}</address>\n"
        page = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
                "<title>400 Bad Request</title>\n</head><body>\n<h1>Bad Request</h1>\n"
                "<p>Your browser sent a request that this server could not understand.<br />\n"
                "Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n"
                " Instead use the HTTPS scheme to access this URL, please.<br />\n</p>\n"
                f"<hr>\n{address}</body></html>\n").encode()
        content_type = "text/html; charset=iso-8859-1"
        return Response(400, self._headers(None, page, content_type, status=400), page,
                        close=True)

    # -- Site ---------------------------------------------------------------------------
    def error(self, status: int, request: Request | None) -> Response:
        body, content_type = self._error_page(status, request)
        headers = self._headers(request, body, content_type, status=status)
        return Response(status, headers, body, close=status in (400, 413, 414, 505))

    def page(self, request: Request, body: bytes, static: bool,
             content_type: str = "text/html") -> Response:
        return Response(200, self._headers(request, body, content_type, static), body)

    async def respond(self, session: Session, request: Request) -> Response:
        path = request.path
        if request.method == "OPTIONS":
            response = self.page(request, b"", False)
            response.headers.insert(2, ("Allow", "GET,POST,OPTIONS,HEAD"))
            return response
        if request.method not in ("GET", "HEAD", "POST"):
            return self.error(405, request)
        if any(path == area or path.startswith(area + "/") for area in PROTECTED):
            response = self.error(401, request)
            at = 2 if self.style == "apache" else 1
            response.headers.insert(at, ("WWW-Authenticate", f'Basic realm="{BASIC_REALM}"'))
            return response
        if path in LOGIN_PATHS:
            return self._login(session, request)
        if request.method == "POST":
            _record_form(session, request)
        if path in INDEX_PATHS and request.method != "POST":
            return self.page(request, self._index(), static=self.body is None)
        if path in INDEX_PATHS:
            return self.error(405, request)
        if path.startswith("/.ht") or path == "/server-status":
            return self.error(403, request)
        return self.error(404, request)

    def _login(self, session: Session, request: Request) -> Response:
        username = ""
        failed = False
        if request.method == "POST":
            creds = _record_form(session, request)
            if creds:
                username, failed = creds[0], True
        content_type = "text/html; charset=UTF-8"
        body = self._login_page(request.path, username, failed)
        response = Response(200, self._headers(request, body, content_type), body)
        cookie = ("ASP.NET_SessionId", "; path=/; HttpOnly; SameSite=Lax") \
            if self.style == "iis" else ("PHPSESSID", "; path=/; HttpOnly")
        response.headers.insert(1, ("Set-Cookie", f"{cookie[0]}={self.csrf[:26]}{cookie[1]}"))
        response.headers.insert(1, ("Cache-Control", "no-store, no-cache, must-revalidate"))
        return response


def _record_form(session: Session, request: Request) -> tuple[str, str] | None:
    """A `login` event for a form carrying a password; the credentials it carried."""
    creds = form_credentials(request.form())
    if creds:
        session.event("login", username=creds[0], password=creds[1], success=False,
                      mech="form", path=request.path)
    return creds


def site_for(session: Session) -> WebSite:
    """The web site this persona and config describe."""
    config = session.config
    persona = session.persona
    raw = config.get("server_header")
    server = DEFAULT_HEADER if raw is None else str(raw)
    if persona.is_windows and server in ("", DEFAULT_HEADER):
        server = IIS_HEADER
    lowered = server.lower()
    style = "nginx" if "nginx" in lowered else "iis" if "microsoft-iis" in lowered else "apache"
    body = config.get("page_body")
    mtime = 1_680_000_000 + persona.number("http-mtime", 40_000_000)
    site = WebSite(server=server, style=style, title=str(config.get("page_title") or
                                                         DEFAULT_TITLE),
                   body=None if body in (None, "") else str(body), hostname=persona.hostname,
                   fqdn=persona.fqdn, mtime=float(mtime),
                   csrf=persona.derive("http-csrf", 16).hex())
    site.port = str(session.dst_port)
    return site


async def handle(session: Session) -> None:
    await serve(session, site_for(session))
