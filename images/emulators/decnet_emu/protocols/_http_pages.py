"""The stock pages of the web servers http.py plays: Apache's and nginx's default index and
error texts, IIS's start page and error pages, and the login form of the admin paths."""

from __future__ import annotations

APACHE_MESSAGES = {
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

NGINX_INDEX = """<!DOCTYPE html>
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

IIS_INDEX = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
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

APACHE_INDEX = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
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

LOGIN_FORM = """<!DOCTYPE html>
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


def iis_error_page(status: int, phrase: str) -> str:
    """IIS 10's own error page for `status`."""
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
