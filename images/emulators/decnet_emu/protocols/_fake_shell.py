"""A believable minimal shell after an accepted telnet login: every line is a `command` event.

Not a real shell (the real-shell foothold is ssh's): it answers the first commands an
attacker types (id, whoami, uname, hostname, pwd, cd, ls, cat of a few files, ps, w, ip,
ifconfig, echo, exit) from the persona, and `-bash: X: command not found` otherwise. A
Windows persona gets a cmd.exe look (whoami, hostname, ver, dir, ipconfig, exit).
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable

from decnet_emu.persona import Persona
from decnet_emu.protocols._paths import path_parts

Write = Callable[[str], Awaitable[None]]

_HOME_FILES = {".bashrc": "# ~/.bashrc: executed by bash(1) for non-login shells.\n",
               ".profile": "# ~/.profile: executed by the command interpreter for login shells.\n",
               ".bash_history": ""}
_DEBIAN_BUILDS = {"6.1.0-18-amd64": "6.1.76-1 (2024-02-01)", "6.1.0-21-amd64": "6.1.90-1 "
                  "(2024-05-03)", "6.1.0-23-amd64": "6.1.99-1 (2024-07-15)", "6.1.0-25-amd64":
                  "6.1.106-3 (2024-08-26)", "6.1.0-28-amd64": "6.1.119-1 (2024-11-22)"}
_UPTIME = " 09:14:07 up 41 days,  3:12,  1 user,  load average: 0.00, 0.01, 0.00\n"
_ROOT_LISTING = ("bin   dev  home        initrd.img.old  lib64       media  opt   root  sbin  "
                 "sys  usr  vmlinuz\nboot  etc  initrd.img  lib             lost+found  mnt    "
                 "proc  run   srv   tmp  var  vmlinuz.old\n")


class FakeShell:
    """State of one shell session: user, working directory, persona."""

    def __init__(self, persona: Persona, user: str, address: str) -> None:
        self.persona = persona
        self.user = user
        self.address = address
        self.uid = 0 if user == "root" else 1000
        self.home = "/root" if user == "root" else f"/home/{user}"
        self.cwd = self.home

    # -- Linux ----------------------------------------------------------------------------
    def motd(self) -> str:
        p = self.persona
        if p.is_windows:
            return ("Microsoft Windows [Version 10.0.17763.5329]\n"
                    "(c) 2018 Microsoft Corporation. All rights reserved.\n\n")
        return (f"Linux {p.hostname} {p.kernel} {self._build()} x86_64\n\n"
                "The programs included with the Debian GNU/Linux system "
                "are free software;\nthe exact distribution terms for each program are "
                "described in the\nindividual files in /usr/share/doc/*/copyright.\n\n"
                "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent\n"
                "permitted by applicable law.\n")

    def prompt(self) -> str:
        if self.persona.is_windows:
            return f"C:\\Users\\{self.user}>"
        where = "~" + self.cwd[len(self.home):] if self.cwd.startswith(self.home) else self.cwd
        return f"{self.user}@{self.persona.hostname}:{where}{'#' if self.uid == 0 else '$'} "

    def run(self, line: str) -> tuple[str, bool]:
        """(output, keep going) for one command line."""
        if self.persona.is_windows:
            return self._run_windows(line)
        outputs = []
        for part in line.split(";"):
            out, more = self._run_linux(part.strip())
            outputs.append(out)
            if not more:
                return "".join(outputs), False
        return "".join(outputs), True

    def _run_linux(self, line: str) -> tuple[str, bool]:
        try:
            words = shlex.split(line.split("|")[0])
        except ValueError:
            return "-bash: syntax error: unexpected end of file\n", True
        if not words:
            return "", True
        name, args = words[0], words[1:]
        p = self.persona
        group = "root" if self.uid == 0 else self.user
        table: dict[str, Callable[[], str]] = {
            "id": lambda: f"uid={self.uid}({self.user}) gid={self.uid}({group}) "
                          f"groups={self.uid}({group})\n",
            "whoami": lambda: f"{self.user}\n",
            "hostname": lambda: f"{p.hostname}\n",
            "pwd": lambda: f"{self.cwd}\n",
            "uname": lambda: self._uname(args),
            "ls": lambda: self._ls(args),
            "cat": lambda: self._cat(args),
            "echo": lambda: " ".join(args) + "\n",
            "ps": lambda: ("    PID TTY          TIME CMD\n   1184 pts/0    00:00:00 bash\n"
                           "   1203 pts/0    00:00:00 ps\n"),
            "w": lambda: (_UPTIME + "USER     TTY      FROM             LOGIN@   IDLE   JCPU"
                          "   PCPU WHAT\n" f"{self.user:<8} pts/0    -                09:13    "
                          "0.00s  0.01s  0.00s w\n"),
            "uptime": lambda: _UPTIME,
            "ip": lambda: self._ip(),
            "ifconfig": lambda: self._ifconfig(),
            "cd": lambda: self._cd(args),
            "history": lambda: "",
            "clear": lambda: "\x1b[H\x1b[2J",
            "true": lambda: "",
        }
        if name in ("exit", "logout"):
            return "logout\n" if name == "logout" else "", False
        if name in table:
            return table[name](), True
        if name in ("wget", "curl"):
            target = args[-1] if args else ""
            return (f"{name}: unable to resolve host address '{target.split('/')[2]}'\n"
                    if target.count("/") >= 2 else f"{name}: missing URL\n"), True
        if name in ("sudo", "su"):
            return f"{self.user} is not in the sudoers file.  This incident will be reported.\n" \
                if self.uid else "", True
        return f"-bash: {name}: command not found\n", True

    def _uname(self, args: list[str]) -> str:
        p = self.persona
        if "-a" in args:
            return f"Linux {p.hostname} {p.kernel} {self._build()} x86_64 GNU/Linux\n"
        if "-r" in args:
            return f"{p.kernel}\n"
        if "-n" in args:
            return f"{p.hostname}\n"
        if "-m" in args:
            return "x86_64\n"
        return "Linux\n"

    def _build(self) -> str:
        build = _DEBIAN_BUILDS.get(self.persona.kernel, "6.1.76-1 (2024-02-01)")
        return f"#1 SMP PREEMPT_DYNAMIC Debian {build}"

    def _path(self, arg: str) -> str:
        if arg.startswith("~"):
            arg = self.home + arg[1:]
        return "/" + "/".join(path_parts(self.cwd, arg))

    def _cd(self, args: list[str]) -> str:
        target = self._path(args[0]) if args else self.home
        if target in ("/", "/tmp", "/etc", "/var", "/usr", "/home", self.home, "/root",
                      "/opt", "/srv", "/var/log", "/var/www"):
            if target == "/root" and self.uid:
                return f"-bash: cd: {args[0]}: Permission denied\n"
            self.cwd = target
            return ""
        return f"-bash: cd: {args[0]}: No such file or directory\n"

    def _ls(self, args: list[str]) -> str:
        paths = [a for a in args if not a.startswith("-")]
        where = self._path(paths[0]) if paths else self.cwd
        show_all = any(a.startswith("-") and "a" in a for a in args)
        if where == "/":
            return _ROOT_LISTING
        if where == self.home:
            return "  ".join(sorted(_HOME_FILES)) + "\n" if show_all else ""
        if where == "/home":
            return f"{self.user if self.uid else 'admin'}\n"
        if where == "/tmp":
            return ""
        return f"ls: cannot access '{where}': No such file or directory\n" \
            if where not in ("/etc", "/var", "/usr", "/opt", "/srv") else "\n"

    def _cat(self, args: list[str]) -> str:
        out = []
        for arg in args:
            path = self._path(arg)
            if path == "/etc/hostname":
                out.append(f"{self.persona.hostname}\n")
            elif path == "/etc/os-release":
                out.append('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"'
                           '\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm'
                           '\nID=debian\nHOME_URL="https://www.debian.org/"\n')
            elif path == "/etc/passwd":
                out.append("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:"
                           "/usr/sbin/nologin\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
                           "sys:x:3:3:sys:/dev:/usr/sbin/nologin\nwww-data:x:33:33:www-data:"
                           "/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent"
                           ":/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
                           + (f"{self.user}:x:1000:1000:,,,:{self.home}:/bin/bash\n"
                              if self.uid else ""))
            elif path == "/etc/shadow":
                out.append(f"cat: {arg}: Permission denied\n" if self.uid else
                           "root:*:19737:0:99999:7:::\n")
            elif path.startswith(self.home + "/") and path[len(self.home) + 1:] in _HOME_FILES:
                out.append(_HOME_FILES[path[len(self.home) + 1:]])
            else:
                out.append(f"cat: {arg}: No such file or directory\n")
        return "".join(out)

    def _ip(self) -> str:
        return ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default"
                " qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
                "    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft "
                "forever\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state"
                f" UP group default\n    link/ether {self._mac()} brd ff:ff:ff:ff:ff:ff\n"
                f"    inet {self.address}/24 brd {self._broadcast()} scope global eth0\n"
                "       valid_lft forever preferred_lft forever\n")

    def _ifconfig(self) -> str:
        return (f"eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet "
                f"{self.address}  netmask 255.255.255.0  broadcast {self._broadcast()}\n"
                f"        ether {self._mac()}  txqueuelen 0  (Ethernet)\n\n"
                "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n        inet 127.0.0.1  netmask "
                "255.0.0.0\n        loop  txqueuelen 1000  (Local Loopback)\n\n")

    def _mac(self) -> str:
        tail = self.persona.derive("mac", 4)
        return "02:42:" + ":".join(f"{b:02x}" for b in tail)

    def _broadcast(self) -> str:
        parts = self.address.split(".")
        return ".".join([*parts[:3], "255"]) if len(parts) == 4 else self.address

    # -- Windows --------------------------------------------------------------------------
    def _run_windows(self, line: str) -> tuple[str, bool]:
        words = line.split()
        if not words:
            return "\n", True
        name = words[0].lower()
        p = self.persona
        if name in ("exit", "logoff"):
            return "", False
        answers = {
            "whoami": f"{p.hostname.lower()}\\{self.user}\n\n",
            "hostname": f"{p.hostname.upper()}\n\n",
            "ver": "\nMicrosoft Windows [Version 10.0.17763.5329]\n\n",
            "dir": (f" Volume in drive C has no label.\n Directory of C:\\Users\\{self.user}\n\n"
                    "01/15/2024  09:12 AM    <DIR>          .\n01/15/2024  09:12 AM    <DIR>  "
                    "        ..\n01/15/2024  09:12 AM    <DIR>          Desktop\n"
                    "01/15/2024  09:12 AM    <DIR>          Documents\n"
                    "               0 File(s)              0 bytes\n"
                    "               4 Dir(s)  41,203,412,992 bytes free\n\n"),
            "ipconfig": ("\nWindows IP Configuration\n\n\nEthernet adapter Ethernet:\n\n"
                         "   Connection-specific DNS Suffix  . : \n"
                         f"   IPv4 Address. . . . . . . . . . . : {self.address}\n"
                         "   Subnet Mask . . . . . . . . . . . : 255.255.255.0\n\n"),
        }
        if name in answers:
            return answers[name], True
        return (f"'{words[0]}' is not recognized as an internal or external command,\n"
                "operable program or batch file.\n\n"), True
