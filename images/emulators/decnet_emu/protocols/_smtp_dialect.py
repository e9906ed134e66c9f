"""What an SMTP server says, per product: Postfix (Linux personas) or Microsoft Exchange
(`Microsoft ESMTP MAIL Service`, Windows personas). Replies are str.format templates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    replies: dict[str, str]
    extensions: tuple[str, ...]  # EHLO keywords; "STARTTLS"/"X-ANONYMOUSTLS" only before TLS
    mechanisms: tuple[str, ...]
    size_limit: int
    forbidden_closes: bool  # CONNECT/GET/POST end the session

    def say(self, key: str, **values: object) -> str:
        return self.replies[key].format(**values)

    def ehlo_keywords(self, tls: bool) -> list[str]:
        words = [w for w in self.extensions
                 if not (tls and w in ("STARTTLS", "X-ANONYMOUSTLS"))]
        return [w.format(size=self.size_limit, mechs=" ".join(self.mechanisms)) for w in words]


POSTFIX = Dialect("postfix", {
    "banner": "220 {fqdn} ESMTP {version}",
    "ehlo_first": "{fqdn}",
    "helo": "250 {fqdn}",
    "helo_syntax": "501 Syntax: {verb} hostname",
    "tls_active": "554 5.5.1 Error: TLS already active",
    "tls_syntax": "501 5.5.4 Syntax: STARTTLS",
    "tls_ready": "220 2.0.0 Ready to start TLS",
    "need_helo": "503 5.5.1 Error: send HELO/EHLO first",
    "auth_in_mail": "503 5.5.1 Error: MAIL transaction in progress",
    "auth_bad_mech": "535 5.7.8 Error: authentication failed: Invalid authentication mechanism",
    "auth_failed": "535 5.7.8 Error: authentication failed: authentication failure",
    "auth_aborted": "501 5.7.0 Authentication aborted",
    "auth_decode": "501 5.5.2 Cannot decode response",
    "nested_mail": "503 5.5.1 Error: nested MAIL command",
    "mail_syntax": "501 5.5.4 Syntax: MAIL FROM:<address>",
    "size_exceeded": "552 5.3.4 Message size exceeds fixed limit",
    "mail_ok": "250 2.1.0 Ok",
    "need_mail": "503 5.5.1 Error: need MAIL command",
    "rcpt_syntax": "501 5.5.4 Syntax: RCPT TO:<address>",
    "too_many_rcpt": "452 4.5.3 Error: too many recipients",
    "relay_denied": "454 4.7.1 <{rcpt}>: Relay access denied",
    "rcpt_ok": "250 2.1.5 Ok",
    "data_syntax": "501 5.5.4 Syntax: DATA",
    "no_rcpt": "554 5.5.1 Error: no valid recipients",
    "data_go": "354 End data with <CR><LF>.<CR><LF>",
    "bdat_syntax": "501 5.5.4 Syntax: BDAT count [LAST]",
    "bdat_ok": "250 2.0.0 Ok: {count} bytes",
    "too_big": "552 5.3.4 Error: message file too big",
    "queued": "250 2.0.0 Ok: queued as {qid}",
    "rset": "250 2.0.0 Ok",
    "noop": "250 2.0.0 Ok",
    "bye": "221 2.0.0 Bye",
    "forbidden": "221 2.7.0 Error: I can break rules, too. Goodbye.",
    "vrfy_syntax": "501 5.5.4 Syntax: VRFY address",
    "vrfy": "252 2.0.0 {arg}",
    "etrn": "554 5.7.1 <{arg}>: Relay access denied",
    "bad_syntax": "500 5.5.2 Error: bad syntax",
    "unknown": "502 5.5.2 Error: command not recognized",
    "too_many_errors": "421 4.7.0 {fqdn} Error: too many errors",
}, ("PIPELINING", "SIZE {size}", "VRFY", "ETRN", "STARTTLS", "AUTH {mechs}",
    "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"),
    ("PLAIN", "LOGIN"), 10240000, True)

EXCHANGE = Dialect("exchange", {
    **POSTFIX.replies,
    "banner": "220 {fqdn} Microsoft ESMTP MAIL Service ready at {date}",
    "ehlo_first": "{fqdn} Hello [{client}]",
    "helo": "250 {fqdn} Hello [{client}]",
    "helo_syntax": "501 5.5.4 Invalid domain name",
    "tls_active": "503 5.5.2 Only one STARTTLS command can be issued per session",
    "tls_syntax": "501 5.5.4 Invalid arguments",
    "tls_ready": "220 2.0.0 SMTP server ready",
    "need_helo": "503 5.5.2 Send hello first",
    "auth_in_mail": "503 5.5.2 Sender already specified",
    "auth_bad_mech": "504 5.7.4 Unrecognized authentication type",
    "auth_failed": "535 5.7.3 Authentication unsuccessful",
    "auth_aborted": "501 5.5.4 Authentication aborted",
    "auth_decode": "501 5.5.2 Cannot Base64-decode Client responses",
    "nested_mail": "503 5.5.2 Sender already specified",
    "mail_syntax": "501 5.5.4 Invalid arguments",
    "size_exceeded": "552 5.3.4 Message size exceeds fixed maximum message size",
    "mail_ok": "250 2.1.0 Sender OK",
    "need_mail": "503 5.5.2 Need mail command",
    "rcpt_syntax": "501 5.5.4 Invalid arguments",
    "too_many_rcpt": "452 4.5.3 Too many recipients",
    "relay_denied": "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
    "rcpt_ok": "250 2.1.5 Recipient OK",
    "data_syntax": "501 5.5.4 Invalid arguments",
    "no_rcpt": "503 5.5.2 Need rcpt command",
    "data_go": "354 Start mail input; end with <CRLF>.<CRLF>",
    "bdat_syntax": "501 5.5.4 Invalid arguments",
    "bdat_ok": "250 2.0.0 {count} bytes received",
    "too_big": "552 5.3.4 Message size exceeds fixed maximum message size",
    "queued": "250 2.6.0 <{qid}@{fqdn}> [InternalId={internal}, Hostname={fqdn}] Queued mail "
              "for delivery",
    "rset": "250 2.0.0 Resetting",
    "noop": "250 2.0.0 OK",
    "bye": "221 2.0.0 Service closing transmission channel",
    "forbidden": "500 5.3.3 Unrecognized command '{verb}'",
    "vrfy_syntax": "501 5.5.4 Invalid arguments",
    "vrfy": "252 2.1.5 Cannot VRFY user, but will take message for {arg}",
    "etrn": "502 5.3.3 Command not implemented",
    "bad_syntax": "500 5.3.3 Unrecognized command 'unknown'",
    "unknown": "500 5.3.3 Unrecognized command '{verb}'",
    "too_many_errors": "421 4.7.0 Too many errors on this connection, closing transmission "
                       "channel",
}, ("SIZE {size}", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS", "X-ANONYMOUSTLS",
    "AUTH {mechs}", "X-EXPS GSSAPI NTLM", "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8",
    "XRDST"), ("LOGIN",), 37748736, False)


def dialect_for(version: str, windows: bool) -> Dialect:
    """Exchange for `Microsoft ESMTP MAIL Service` (or a Windows persona without a version),
    else Postfix."""
    if version.startswith("Microsoft") or (windows and not version):
        return EXCHANGE
    return POSTFIX
