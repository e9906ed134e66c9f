"""What an FTP server says, per product: vsftpd (Linux personas) or Microsoft FTP Service
(IIS, Windows personas). Replies are templates filled with str.format."""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
Stamp = tuple[int, int, int, int, int]  # year, month, day, hour, minute


@dataclass(frozen=True)
class Dialect:
    name: str
    replies: dict[str, str]
    closes_after_fails: bool

    def say(self, key: str, **values: object) -> str:
        return self.replies[key].format(**values)

    def ls_line(self, name: str, directory: bool, size: int, links: int, when: Stamp) -> str:
        y, m, d, hh, mm = when
        if self.name == "iis":  # IIS's MS-DOS listing style
            hour = f"{(hh % 12) or 12:02d}:{mm:02d}{'AM' if hh < 12 else 'PM'}"
            middle = f"{'<DIR>':<14}" if directory else f"{size:>14}"
            return f"{m:02d}-{d:02d}-{y % 100:02d}  {hour}       {middle} {name}\r\n"
        perms = "drwxr-xr-x" if directory else "-rw-r--r--"
        stamp = f"{_MONTHS[m - 1]} {d:>2}  {y}"
        return f"{perms} {links:>4} ftp      ftp      {size:>8} {stamp} {name}\r\n"


VSFTPD = Dialect("vsftpd", {
    "greeting": "220 ({version})",
    "user": "331 Please specify the password.",
    "user_anonymous": "331 Please specify the password.",
    "user_again": "530 Can't change from guest user.",
    "already": "230 Already logged in.",
    "login_first": "503 Login with USER first.",
    "login_ok": "230 Login successful.",
    "login_bad": "530 Login incorrect.",
    "need_login": "530 Please login with USER and PASS.",
    "pwd": '257 "{path}" is the current directory',
    "cwd_ok": "250 Directory successfully changed.",
    "cwd_bad": "550 Failed to change directory.",
    "syst": "215 UNIX Type: L8",
    "type_ok": "200 Switching to {word} mode.",
    "type_bad": "500 Unrecognised TYPE command.",
    "no_data": "425 Use PORT or PASV first.",
    "data_fail": "425 Failed to establish connection.",
    "list_start": "150 Here comes the directory listing.",
    "list_done": "226 Directory send OK.",
    "retr_start": "150 Opening {mode} mode data connection for {name} ({size} bytes).",
    "retr_done": "226 Transfer complete.",
    "no_file": "550 Failed to open file.",
    "denied": "550 Permission denied.",
    "size_bad": "550 Could not get file size.",
    "mdtm_bad": "550 Could not get file modification time.",
    "rest": "350 Restart position accepted ({offset}).",
    "abor": "225 No transfer to ABOR.",
    "unknown": "500 Unknown command.",
    "goodbye": "221 Goodbye.",
    "noop": "200 NOOP ok.",
    "utf8": "200 Always in UTF8 mode.",
    "opts_bad": "501 Option not understood.",
    "mode": "200 Mode set to S.",
    "stru": "200 Structure set to F.",
    "features": "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n"
                " TVFS\r\n211 End",
    "help": "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE "
            "EPRT EPSV FEAT HELP LIST MDTM MKD\r\n MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT "
            "REIN REST RETR RMD  RNFR\r\n RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER "
            "XCUP XCWD XMKD\r\n XPWD XRMD\r\n214 Help OK.",
    "stat": "211-FTP server status:\r\n     Connected to {client}\r\n     Logged in as ftp\r\n"
            "     TYPE: ASCII\r\n     No session bandwidth limit\r\n     Session timeout in "
            "seconds is 300\r\n     Control connection is plain text\r\n     Data connections "
            "will be plain text\r\n     At session startup, client count was 1\r\n     "
            "{version} - secure, fast, stable\r\n211 End of status",
}, closes_after_fails=True)

IIS = Dialect("iis", {
    **VSFTPD.replies,
    "greeting": "220 Microsoft FTP Service",
    "user": "331 Password required",
    "user_anonymous": "331 Anonymous access allowed, send identity (e-mail name) as password.",
    "user_again": "503 Cannot change user while logged in.",
    "already": "503 Already logged in.",
    "login_first": "503 Login with USER first.",
    "login_ok": "230 User logged in.",
    "login_bad": "530 User cannot log in.",
    "need_login": "530 Please login with USER and PASS.",
    "pwd": '257 "{path}" is current directory.',
    "cwd_ok": "250 CWD command successful.",
    "cwd_bad": "550 The system cannot find the file specified. ",
    "syst": "215 Windows_NT",
    "type_ok": "200 Type set to {letter}.",
    "type_bad": "501 Invalid argument.",
    "data_fail": "425 Can't open data connection.",
    "list_start": "125 Data connection already open; Transfer starting.",
    "list_done": "226 Transfer complete.",
    "retr_start": "125 Data connection already open; Transfer starting.",
    "no_file": "550 The system cannot find the file specified. ",
    "denied": "550 Access is denied. ",
    "size_bad": "550 The system cannot find the file specified. ",
    "mdtm_bad": "550 The system cannot find the file specified. ",
    "rest": "350 Restarting at {offset}.",
    "abor": "225 ABOR command successful.",
    "unknown": "500 Command not understood.",
    "noop": "200 NOOP command successful.",
    "utf8": "200 OPTS UTF8 command successful - UTF8 encoding now ON.",
    "opts_bad": "501 Invalid argument.",
    "mode": "200 MODE S command successful.",
    "stru": "200 STRU F command successful.",
    "features": "211-Extended features supported:\r\n LANG EN*\r\n UTF8\r\n AUTH TLS;TLS-C;SSL;"
                "TLS-P;\r\n PBSZ\r\n PROT C;P;\r\n CCC\r\n HOST\r\n SIZE\r\n MDTM\r\n REST "
                "STREAM\r\n211 END",
    "help": "214-The following commands are recognized (* ==>'s unimplemented).\r\n    ABOR\r\n"
            "    ACCT\r\n    APPE\r\n    CDUP\r\n    CWD\r\n    DELE\r\n    EPRT\r\n    EPSV\r\n"
            "    FEAT\r\n    HELP\r\n    LIST\r\n    MDTM\r\n    MKD\r\n    NLST\r\n    NOOP\r\n"
            "    PASS\r\n    PASV\r\n    PORT\r\n    PWD\r\n    QUIT\r\n    RETR\r\n    SIZE\r\n"
            "    STOR\r\n    SYST\r\n    TYPE\r\n    USER\r\n214 HELP command successful.",
    "stat": "211-{host} Microsoft Windows NT FTP Server status:\r\n     Microsoft FTP Service\r\n"
            "     Connected to {client}\r\n     Logged in as anonymous\r\n     TYPE: ASCII, FORM:"
            " Nonprint; STRUcture: File; transfer MODE: STREAM\r\n     No data connection\r\n"
            "211 End of status.",
}, closes_after_fails=False)


def dialect_for(version: str, windows: bool) -> Dialect:
    """IIS for `Microsoft FTP Service` (or a Windows persona without a version), else vsftpd."""
    if version.startswith("Microsoft") or (windows and not version):
        return IIS
    return VSFTPD
