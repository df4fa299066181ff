"""scripts/setup-system.sh, which `make test` and `.ci/run` run: silent when the system packages
are there, names exactly the missing ones when not root, installs them with apt-get as root, and
in CI insists on a PostgreSQL server. Run with a PATH of stubs: nothing is installed for real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

SCRIPT = REPO / "scripts" / "setup-system.sh"
BASH = shutil.which("bash") or "/bin/bash"
CHMOD = shutil.which("chmod") or "/bin/chmod"
TOOLS = ("mktemp", "rm", "tail", "basename", "seq", "sleep", "timeout")


@pytest.fixture(autouse=True)
def _fonts() -> None:
    # Fonts are a folder, not a command: these tests take the machine's, which the script put
    # there (it runs before pytest in `make test`).
    if not Path("/usr/share/fonts/truetype/liberation").is_dir():
        unavailable("fonts-liberation is not installed: run scripts/setup-system.sh as root")


class Machine:
    """A PATH of stub commands; ``apt-get install`` adds a stub for each package it is given
    (named as the package's command)."""

    def __init__(self, folder: Path, *, root: bool) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.log = folder / "calls.log"
        for tool in TOOLS:
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
        self.stub("id", f"echo {0 if root else 1000}")
        self.stub(
            "apt-get",
            f'echo "apt-get $*" >> {self.log}\n'
            'if [ "$1" = install ]; then for p in "$@"; do case $p in -*|Dpkg*) ;; *)\n'
            "  c=${p%-imapd}\n"  # a package's command: dovecot-imapd gives dovecot
            f'  printf "#!{BASH}\\n" > {self.bin}/$c; {CHMOD} +x {self.bin}/$c;; esac; done; fi',
        )

    def stub(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(0o755)

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASH, str(SCRIPT)],
            env={"PATH": str(self.bin), "PYTHON": sys.executable, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def _mail_stack(machine: Machine) -> None:
    machine.stub("postfix", "")
    machine.stub("dovecot", "")


def test_everything_present_is_silent_and_runs_no_apt_get(tmp_path: Path) -> None:
    machine = Machine(tmp_path, root=True)
    machine.stub("make", "")
    machine.stub("chromium", "")
    _mail_stack(machine)
    machine.stub("wrk", "")
    run = machine.run()
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert machine.calls() == []


def test_not_root_it_names_exactly_what_is_missing_and_how_to_install_it(tmp_path: Path) -> None:
    machine = Machine(tmp_path, root=False)
    machine.stub("make", "")
    machine.stub("postfix", "")
    run = machine.run(PYTHON="/bin/false")  # a Python that cannot make a venv
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "setup-system: the tests need these system packages, which are missing: "
        "python3-venv chromium wrk dovecot-imapd",
        "Install them as root (Debian or Ubuntu), then run make test again:",
        "  sudo apt-get update && sudo apt-get install -y python3-venv chromium wrk dovecot-imapd",
    ]
    assert machine.calls() == []


def test_as_root_it_installs_what_is_missing_quietly(tmp_path: Path) -> None:
    """Postfix is told beforehand that the machine needs no mail system of its own (its
    package would otherwise ask, or configure one)."""
    machine = Machine(tmp_path, root=True)
    machine.stub("debconf-set-selections", f'read -r line; echo "debconf $line" >> {machine.log}')
    run = machine.run()
    assert run.returncode == 0, run.stderr
    assert run.stdout == "setup-system: installing make chromium wrk postfix dovecot-imapd\n"
    assert machine.calls() == [
        "debconf postfix postfix/main_mailer_type select No configuration",
        "apt-get update -qq",
        "apt-get install -y -qq -o Dpkg::Use-Pty=0 make chromium wrk postfix dovecot-imapd",
    ]
    assert machine.run().stdout == ""  # and the next time there is nothing to do


def test_a_chromium_named_by_listonosz_chromium_counts(tmp_path: Path) -> None:
    machine = Machine(tmp_path, root=False)
    machine.stub("make", "")
    _mail_stack(machine)
    machine.stub("wrk", "")
    machine.stub("my-chrome", "")
    assert machine.run(LISTONOSZ_CHROMIUM="my-chrome").returncode == 0
    run = machine.run(LISTONOSZ_CHROMIUM=str(tmp_path / "absent"))
    assert run.returncode == 1 and "missing: chromium" in run.stderr


def test_in_ci_postgresql_must_answer(tmp_path: Path) -> None:
    machine = Machine(tmp_path, root=False)
    machine.stub("make", "")
    machine.stub("chromium", "")
    _mail_stack(machine)
    machine.stub("wrk", "")
    machine.stub("pg_isready", "exit 2")  # no answer
    assert machine.run().returncode == 0  # outside CI the PostgreSQL tests may skip
    run = machine.run(CI="true")
    assert run.returncode == 1
    assert "CI=true, but no PostgreSQL answers on 127.0.0.1:5432" in run.stderr
    assert "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" in run.stderr
    machine.stub("pg_isready", 'echo "pg_isready $*" >> ' + str(machine.log))
    assert machine.run(CI="true").returncode == 0
    assert machine.calls() == ["pg_isready -q -h 127.0.0.1 -p 5432 -t 3"]
