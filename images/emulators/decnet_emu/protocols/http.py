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

_APACHE_MESSAGES = {
    400: "<p>Your browser sent a request that this server could not understand.<br />\n</p>",
    401: "<p>This server could not verify that you\nare authorized to access the document\n"
         "requested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\n"
         "browser doesn't understand how to supply\nthe credentials required.</p>",
    403: "<p>You don't have permission to access this resource.</p>",
    404: "<p>The requested URL was not found on this server.</p>",
    405: "<p>The requested method {method} is not allowed for this URL.</p>",
    413: "The requested resource does not allow request data with {method} requests, or the "
         "amount of data provided in\nthe request exceeds the capacity limit.",
    414: "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>",
    505: "<p>The server encountered an internal error or\nmisconfiguration and was unable to "
         "complete\nyour request.</p>",
}

_NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""

_IIS_INDEX = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />
<title>IIS Windows Server</title>
<style type="text/css">
<!--
body {
\tcolor:#000000;
\tbackground-color:#0072C6;
\tmargin:0;
}

#container {
\tmargin-left:auto;
\tmargin-right:auto;
\ttext-align:center;
\t}

a img {
\tborder:none;
}

-->
</style>
</head>
<body>
<div id="container">
<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409">\
<img src="iisstart.png" alt="IIS" width="960" height="600" /></a>
</div>
</body>
</html>"""

_APACHE_INDEX = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    <title>Apache2 Debian Default Page: It works</title>
    <style type="text/css" media="screen">
  * { margin: 0px 0px 0px 0px; padding: 0px 0px 0px 0px; }
  body, html { padding: 3px 3px 3px 3px; background-color: #D8DBE2;
    font-family: Verdana, sans-serif; font-size: 11pt; text-align: center; }
  div.main_page { position: relative; display: table; width: 800px; margin-bottom: 3px;
    margin-left: auto; margin-right: auto; padding: 0px 0px 0px 0px;
    border-width: 2px; border-color: #212738; border-style: solid;
    background-color: #FFFFFF; text-align: center; }
  div.page_header { height: 99px; width: 100%; background-color: #F5F6F7; }
  div.page_header span { margin: 15px 0px 0px 50px; font-size: 180%; font-weight: bold; }
  div.content_section_text { padding: 4px 8px 4px 8px; color: #000000; font-size: 100%; }
  div.section_header { padding: 3px 6px 3px 6px; background-color: #8E9CB2; color: #FFFFFF;
    font-weight: bold; font-size: 112%; text-align: center; }
  div.section_header_red { background-color: #CD214F; }
  pre { width: 100%; padding: 2px 8px 2px 8px; font-size: 100%; }
    </style>
  </head>
  <body>
    <div class="main_page">
      <div class="page_header floating_element">
        <img src="/icons/openlogo-75.png" alt="Debian Logo" class="floating_element"/>
        <span class="floating_element">
          Apache2 Debian Default Page
        </span>
      </div>
      <div class="content_section floating_element">
        <div class="section_header section_header_red">
          <div id="about"></div>
          It works!
        </div>
        <div class="content_section_text">
          <p>
                This is the default welcome page used to test the correct
                operation of the Apache2 server after installation on Debian systems.
                If you can read this page, it means that the Apache HTTP server installed at
                this site is working properly. You should <b>replace this file</b> (located at
                <tt>/var/www/html/index.html</tt>) before continuing to operate your HTTP server.
          </p>
          <p>
                If you are a normal user of this web site and don't know what this page is
                about, this probably means that the site is currently unavailable due to
                maintenance.
                If the problem persists, please contact the site's administrator.
          </p>
        </div>
        <div class="section_header">
          <div id="changes"></div>
                Configuration Overview
        </div>
        <div class="content_section_text">
          <p>
                Debian's Apache2 default configuration is different from the
                upstream default configuration, and split into several files optimized for
                interaction with Debian tools. The configuration system is
                <b>fully documented in
                /usr/share/doc/apache2/README.Debian.gz</b>. Refer to this for the full
                documentation. Documentation for the web server itself can be
                found by accessing the <a href="/manual">manual</a> if the <tt>apache2-doc</tt>
                package was installed on this server.
          </p>
          <p>
                The configuration layout for an Apache2 web server installation on Debian
                systems is as follows:
          </p>
          <pre>
/etc/apache2/
|-- apache2.conf
|       `--  ports.conf
|-- mods-enabled
|       |-- *.load
|       `-- *.conf
|-- conf-enabled
|       `-- *.conf
|-- sites-enabled
|       `-- *.conf
          </pre>
        </div>
        <div class="section_header">
            <div id="docroot"></div>
                Document Roots
        </div>
        <div class="content_section_text">
            <p>
                By default, Debian does not allow access through the web browser to
                <em>any</em> file outside of those located in <tt>/var/www</tt>,
                <a href="http://httpd.apache.org/docs/2.4/mod/mod_userdir.html"
                rel="nofollow">public_html</a> directories (when enabled) and
                <tt>/usr/share</tt> (for web applications).
            </p>
        </div>
        <div class="section_header">
          <div id="bugs"></div>
                Reporting Problems
        </div>
        <div class="content_section_text">
          <p>
                Please use the <tt>reportbug</tt> tool to report bugs in the
                Apache2 package with Debian. However, check <a
                href="http://bugs.debian.org/cgi-bin/pkgreport.cgi?ordering=normal;\
archive=0;src=apache2;repeatmerged=0"
                rel="nofollow">existing bug reports</a> before reporting a new bug.
          </p>
        </div>
      </div>
    </div>
    <div class="validator">
    </div>
  </body>
</html>
"""

_LOGIN_FORM = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Segoe UI", Arial, sans-serif; background: #eef1f5; }}
.box {{ width: 340px; margin: 90px auto; background: #fff; padding: 28px 32px;
  border-radius: 6px; box-shadow: 0 2px 8px rgba(0,0,0,.15); }}
label {{ display: block; margin-top: 12px; font-size: 13px; color: #333; }}
input {{ width: 100%; padding: 7px; margin-top: 4px; box-sizing: border-box; }}
button {{ margin-top: 18px; width: 100%; padding: 8px; background: #2d6cdf; color: #fff;
  border: 0; border-radius: 4px; }}
.err {{ color: #b00020; font-size: 13px; margin-top: 10px; }}
</style>
</head>
<body>
<div class="box">
<h2>{heading}</h2>
<form method="post" action="{action}" autocomplete="off">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{username}" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit">Sign in</button>
</form>
{error}
</div>
</body>
</html>
"""


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
            page = {"nginx": _NGINX_INDEX, "iis": _IIS_INDEX}.get(self.style, _APACHE_INDEX)
            return page.encode()
        body = self.body if self.body is not None else f"<h1>{html.escape(self.title)}</h1>"
        return (f"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n</head>\n<body>\n{body}\n"
                f"</body>\n</html>\n").encode()

    def _login_page(self, path: str, username: str = "", failed: bool = False) -> bytes:
        error = '<p class="err">Invalid username or password.</p>' if failed else ""
        heading = "Administration" if "admin" in path else f"Sign in to {self.hostname}"
        return _LOGIN_FORM.format(title=html.escape(f"{self.hostname} - Sign in"),
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
            return _iis_error(status, phrase).encode(), "text/html"
        method = html.escape(request.method if request else "GET")
        message = _APACHE_MESSAGES.get(status, f"<p>{phrase}</p>").format(method=method)
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


def _iis_error(status: int, phrase: str) -> str:
    title = {401: "401 - Unauthorized: Access is denied due to invalid credentials.",
             404: "404 - File or directory not found.",
             403: "403 - Forbidden: Access is denied.",
             405: "405 - HTTP verb used to access this page is not allowed."}.get(
        status, f"{status} - {phrase}.")
    detail = {401: "You do not have permission to view this directory or page using the "
                   "credentials that you supplied.",
              404: "The resource you are looking for might have been removed, had its name "
                   "changed, or is temporarily unavailable.",
              403: "You do not have permission to view this directory or page using the "
                   "credentials that you supplied.",
              405: "The page you are looking for cannot be displayed because an invalid "
                   "method (HTTP verb) was used to attempt access."}.get(status, "")
    return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
            '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
            '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n'
            f"<title>{title}</title>\r\n"
            '<style type="text/css">\r\n<!--\r\nbody{margin:0;font-size:.7em;'
            "font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}\r\n"
            "fieldset{padding:0 15px 10px 15px;} \r\nh1{font-size:2.4em;margin:0;color:#FFF;}"
            "\r\nh2{font-size:1.7em;margin:0;color:#CC0000;} \r\n"
            "h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;} \r\n"
            '#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS"'
            ", Verdana, sans-serif;color:#FFF;\r\nbackground-color:#555555;}\r\n"
            "#content{margin:0 0 0 2%;position:relative;}\r\n"
            ".content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;"
            "position:relative;}\r\n-->\r\n</style>\r\n</head>\r\n<body>\r\n"
            '<div id="header"><h1>Server Error</h1></div>\r\n<div id="content">\r\n'
            ' <div class="content-container"><fieldset>\r\n'
            f"  <h2>{title}</h2>\r\n  <h3>{detail}</h3>\r\n </fieldset></div>\r\n</div>\r\n"
            "</body>\r\n</html>\r\n")


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
