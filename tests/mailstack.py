"""A real mail stack on loopback for the bounce tests and benchmark: Postfix and Dovecot from
Debian, each run from a private configuration in a temporary folder, on free ports.

Postfix takes Listonosz's mail on ``Postfix.port`` and plays every party of a bounce:

- ``LOCAL_DOMAIN`` is its own, without a list of users: an unknown user is accepted, then
  bounced (a DSN with 5.1.1);
- ``REJECT_DOMAIN`` is refused at RCPT time (550 5.1.1): a synchronous refusal, no DSN;
- ``FULL_DOMAIN`` and ``BLOCK_DOMAIN`` go over SMTP to a second smtpd of the same Postfix
  (``remote_port``, another host name) that answers 450 4.2.2 (mailbox full: a "delayed" DSN,
  then an "expired" one when the short queue lifetime ends) and 550 5.7.1 (a policy block);
- ``ACCEPT_DOMAIN`` is delivered (discarded): no bounce;
- ``BOUNCE_DOMAIN`` holds the bounce mailbox: ``bounces+anything@`` lands in the Maildir that
  Dovecot serves over IMAP.

Both need root (Postfix's master runs as root; both switch to their own users); the fixtures
in conftest skip without it (fail under CI=true), naming what is missing.
"""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"

LOCAL_DOMAIN = "poczta.rops.example.pl"
REJECT_DOMAIN = "odrzuca.example.pl"
FULL_DOMAIN = "pelna.example.pl"
BLOCK_DOMAIN = "blokuje.example.pl"
ACCEPT_DOMAIN = "odbiera.example.pl"
BOUNCE_DOMAIN = "zwroty.rops.example.pl"
BOUNCE_USER = "bounces"
BOUNCE_ADDRESS = f"{BOUNCE_USER}@{BOUNCE_DOMAIN}"
IMAP_PASSWORD = "haslo-do-skrzynki-zwrotow"

#: How long a deferred message is retried before it expires (and how soon a delay warning
#: goes out): seconds, so that "delayed, then expired" takes a test seconds, not days.
QUEUE_LIFETIME = 20
DELAY_WARNING = 1


def missing() -> str | None:
    """Why the stack cannot run here (and how to fix it), or None."""
    absent = [p for p in (POSTFIX, DOVECOT) if not Path(p).exists()]
    if absent:
        return (
            f"{' and '.join(absent)} missing: run `bash scripts/setup-system.sh` as root "
            "(installs postfix and dovecot-imapd)"
        )
    if os.geteuid() != 0:
        return "Postfix and Dovecot run from private configurations as root only"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    """Poll ``check`` until it is true; an AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def mail_root() -> Iterator[Path]:
    """A private folder the mail users may enter (pytest's tmp_path is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="listonosz-mail-"))
    try:
        root.chmod(0o755)
        mail = root / "mail"
        mail.mkdir(mode=0o755)
        shutil.chown(mail, "mail", "mail")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Dovecot:
    """A running Dovecot serving ``BOUNCE_USER``'s Maildir over plain IMAP on ``port``."""

    port: int
    root: Path
    log: Path
    user: str = BOUNCE_USER
    password: str = IMAP_PASSWORD

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / self.user

    def client(self) -> IMAPClient:
        imap = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        imap.login(self.user, self.password)
        return imap

    def count(self, folder: str) -> int:
        """Messages in ``folder`` (0 when it does not exist yet)."""
        with self.client() as imap:
            if not imap.folder_exists(folder):
                return 0
            return int(imap.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> None:
        with self.client() as imap:
            imap.append(folder, raw, flags=flags)


@contextlib.contextmanager
def dovecot(root: Path, timeout: float = 30) -> Iterator[Dovecot]:
    """Dovecot in the foreground, from a configuration under ``root``; stopped after."""
    port = free_port()
    conf_dir = root / "dovecot"
    conf_dir.mkdir()
    users = conf_dir / "users"
    users.write_text(f"{BOUNCE_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n")
    log = conf_dir / "dovecot.log"
    mail = root / "mail"
    conf = conf_dir / "dovecot.conf"
    conf.write_text(
        f"""protocols = imap
listen = 127.0.0.1
base_dir = {conf_dir / "run"}
state_dir = {conf_dir / "state"}
log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{mail}/%n
first_valid_uid = 8
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={mail}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    output = conf_dir / "stdout.log"
    with output.open("wb") as out:  # its output never holds a caller's pipe open
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for(lambda: _listening(port) or process.poll() is not None, timeout, "Dovecot")
        except AssertionError:
            raise AssertionError(f"Dovecot did not listen: {_tail(output)}{_tail(log)}") from None
        if process.poll() is not None:
            raise AssertionError(f"Dovecot exited: {_tail(output)}{_tail(log)}")
        yield Dovecot(port, root, log)
    finally:
        _stop(process)


@dataclass
class Postfix:
    """A running Postfix: Listonosz submits on ``port``; ``log`` is its mail log."""

    port: int
    remote_port: int
    config: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def queue_is_empty(self) -> bool:
        done = subprocess.run(
            ["postqueue", "-c", str(self.config), "-j"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return done.returncode == 0 and not done.stdout.strip()


@contextlib.contextmanager
def postfix(root: Path, timeout: float = 60) -> Iterator[Postfix]:
    """Postfix from a configuration under ``root``, delivering bounces into ``root/mail``."""
    port, remote = free_port(), free_port()
    config = root / "postfix"
    config.mkdir()
    (root / "queue").mkdir()
    log = root / "maillog"
    remote_says = (
        f"{{{FULL_DOMAIN} = 450 4.2.2 Mailbox full, try again later}}, "
        f"{{{BLOCK_DOMAIN} = 550 5.7.1 Message rejected by policy}}"
    )
    transports = (
        f"{{{REJECT_DOMAIN} = error:5.1.1 No such user here}}, "
        f"{{{FULL_DOMAIN} = smtp:[127.0.0.1]:{remote}}}, "
        f"{{{BLOCK_DOMAIN} = smtp:[127.0.0.1]:{remote}}}, "
        f"{{{ACCEPT_DOMAIN} = discard:}}"
    )
    (config / "main.cf").write_text(
        f"""compatibility_level = 3.6
config_directory = {config}
queue_directory = {root / "queue"}
data_directory = {root / "data"}
maillog_file = {log}
maillog_file_prefixes = {root}
myhostname = mx.{LOCAL_DOMAIN}
mydomain = {LOCAL_DOMAIN}
myorigin = $myhostname
mydestination = {LOCAL_DOMAIN}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
recipient_delimiter = +
virtual_mailbox_domains = {BOUNCE_DOMAIN}
virtual_mailbox_base = {root / "mail"}
virtual_mailbox_maps = inline:{{ {BOUNCE_ADDRESS}={BOUNCE_USER}/ }}
virtual_uid_maps = static:8
virtual_gid_maps = static:8
virtual_minimum_uid = 8
transport_maps = inline:{{ {transports} }}
remote_restrictions = check_recipient_access inline:{{ {remote_says} }}, reject
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = {QUEUE_LIFETIME}s
bounce_queue_lifetime = {QUEUE_LIFETIME}s
delay_warning_time = {DELAY_WARNING}s
smtputf8_enable = no
biff = no
"""
    )
    services = [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        f"127.0.0.1:{remote} inet n - n - - smtpd -o myhostname=mx.remote.example.pl"
        " -o smtpd_recipient_restrictions=$remote_restrictions",
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "local unix - n n - - local",
        "virtual unix - n n - - virtual",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ]
    (config / "master.cf").write_text("\n".join(services) + "\n")
    _postfix(config, "start")
    try:
        try:
            wait_for(lambda: _listening(port) and _listening(remote), timeout, "Postfix")
        except AssertionError:
            raise AssertionError(f"Postfix did not listen: {_tail(log)}") from None
        yield Postfix(port, remote, config, log)
    finally:
        master = _master_pid(root / "queue")
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            _postfix(config, "stop")
        if master is not None:
            with contextlib.suppress(AssertionError):
                wait_for(lambda: not _alive(master), 20, "Postfix to stop")
            if _alive(master):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(master, signal.SIGKILL)


def _postfix(config: Path, command: str) -> None:
    """``postfix -c CONFIG COMMAND``, its complaint in the error: Postfix writes it to
    standard error only when that is a terminal, so it gets one."""
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [POSTFIX, "-c", str(config), command],
            stdin=subprocess.DEVNULL,
            stdout=secondary,
            stderr=secondary,
            timeout=60,
            check=False,
        )
        os.close(secondary)
        secondary = -1
        said = b""
        with contextlib.suppress(OSError):  # EIO once the terminal has nothing more
            while chunk := os.read(primary, 65536):
                said += chunk
    finally:
        if secondary >= 0:
            os.close(secondary)
        os.close(primary)
    if done.returncode != 0:
        raise AssertionError(f"postfix {command} failed: {said.decode(errors='replace')}")


def _master_pid(queue: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((queue / "pid" / "master.pid").read_text().strip())
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
