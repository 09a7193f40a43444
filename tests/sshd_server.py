"""Debian's OpenSSH sshd on a free loopback port with a host key and a user key generated for the
test, started and always stopped by the tests (as root in CI; the user logs in as itself)."""
from __future__ import annotations

import getpass
import os
import shlex
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

from giftless_server import free_port, stop, wait_for_port

SSHD = "/usr/sbin/sshd"


class Sshd(NamedTuple):
    port: int
    user: str
    ssh_command: str  # for GIT_SSH_COMMAND: the generated key, no known_hosts, no prompts


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def sshd(root: Path) -> Iterator[Sshd]:
    root.mkdir(parents=True, exist_ok=True)
    _keygen(root / "host_key")
    _keygen(root / "user_key")
    shutil.copy(root / "user_key.pub", root / "authorized_keys")
    # The remote command must find the git-datax under test: its directory goes first on PATH.
    # SetEnv alone is not enough where the login shell's rc files (bash sources ~/.bashrc for
    # ssh commands) put another Python's bin first, so ForceCommand sets PATH after them and then
    # runs the client's command unchanged.
    bindir = os.path.dirname(shutil.which("git-datax") or "")
    # ... and the gitdatax under test: a PYTHONPATH given to the tests reaches the server too.
    pythonpath = os.environ.get("PYTHONPATH", "")
    export = f"export PYTHONPATH={shlex.quote(pythonpath)}; " if pythonpath else ""
    port = free_port()
    config = root / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {root / 'host_key'}
PidFile {root / 'sshd.pid'}
AuthorizedKeysFile {root / 'authorized_keys'}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
SetEnv PATH={bindir}:/usr/local/bin:/usr/bin:/bin
ForceCommand PATH={bindir}:$PATH; {export}eval "$SSH_ORIGINAL_COMMAND"
""")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, f"sshd -t: {check.stderr}"
    log = root / "sshd.log"
    with open(log, "wb") as out:
        # Its own process group, so that stopping it also ends sessions still open (a test that
        # failed half-way may leave one).
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        command = (f"ssh -i {root / 'user_key'} -o IdentitiesOnly=yes -o BatchMode=yes "
                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
        yield Sshd(port, getpass.getuser(), command)
    finally:
        stop(proc)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
