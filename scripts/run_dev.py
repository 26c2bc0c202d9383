"""Run the CRM for development in one terminal: the web server, a Celery worker and beat.

`make run` starts this after migrating and seeding. Each process's output is prefixed with its
name. Ctrl-C (or SIGTERM) stops all three; if one of them exits on its own, the others are
stopped and this script exits non-zero, naming the one that died.

Environment: PORT (default 8000); everything else (DEBUG, REDIS_URL, DATABASE_URL, ...) is
passed through unchanged to the three processes, which read it in crm_site/settings.py.
"""

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEMO_USERS = ("admin", "manager", "salesmgr", "sales1", "sales2", "service1", "marketing1")
# The public demo password that seed_demo gives every demo user (see README), not a secret.
DEMO_PASSWORD = "demo-crm-2026"  # noqa: S105
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.2

_output_lock = threading.Lock()
_use_colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
_COLOURS = {"web": "32", "worker": "36", "beat": "35", "run_dev": "1"}
_PREFIX_WIDTH = max(len(name) for name in _COLOURS) + 2


def emit(name: str, text: str) -> None:
    """Print one line prefixed with the name of the process it came from."""
    prefix = f"[{name}]".ljust(_PREFIX_WIDTH)
    if _use_colour:
        prefix = f"\033[{_COLOURS.get(name, '0')}m{prefix}\033[0m"
    with _output_lock:
        try:
            sys.stdout.write(f"{prefix} {text}\n")
            sys.stdout.flush()
        except BrokenPipeError:
            pass


def process_commands(port: str) -> dict[str, list[str]]:
    """The three processes, run with this interpreter (the project's virtualenv)."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "crm_site"]
    return {
        "web": [python, "manage.py", "runserver", f"{HOST}:{port}"],
        # Prefork (the default pool) works with both the filesystem broker and Redis.
        "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
        # The DatabaseScheduler comes from settings; it writes no schedule file, and beat
        # writes no pidfile unless asked to.
        "beat": [*celery, "beat", "--loglevel=INFO"],
    }


def describe_exit(returncode: int) -> str:
    """'exit status 1' or 'killed by SIGKILL', for the message about a dead process."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class Child:
    """One supervised process, its output relayed line by line with a prefix."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name = name
        # A session of its own: Ctrl-C in the terminal reaches only this script, which then
        # stops each process in order; and killing the group also reaches runserver's
        # autoreloader child, which would otherwise outlive its parent and hold the port.
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        self.relay = threading.Thread(target=self._relay_output, name=f"relay-{name}", daemon=True)
        self.relay.start()

    def _relay_output(self) -> None:
        for line in self.process.stdout:
            emit(self.name, line.rstrip("\n"))

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        if not self.running:
            return
        if self.name == "web":
            # runserver's reloader parent dies on SIGTERM without stopping its child.
            self._signal_group(signal.SIGTERM)
        else:
            # Only the Celery main process: it shuts its pool down after the running tasks
            # finish; signalling the pool processes directly would cut those tasks off.
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL whatever is left of the process group (also after the leader has exited)."""
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    def __init__(self, port: str):
        self.port = port
        self.children: list[Child] = []
        self.stop_signal: int | None = None
        self.forced = False
        self.web_ready = False

    def request_stop(self, signum, frame) -> None:
        if self.stop_signal is not None:
            self.forced = True
            return
        self.stop_signal = signum

    def run(self) -> int:
        if self._web_answers():
            # Otherwise that server would answer for ours and the banner would point at it.
            emit("run_dev", f"Something already answers on port {self.port}; stop it or set PORT=<another port>.")
            return 2
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self.request_stop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, argv in process_commands(self.port).items():
            if self.stop_signal is not None:
                break
            self.children.append(Child(name, argv, env))

        died = None
        while self.stop_signal is None and died is None:
            died = next((child for child in self.children if not child.running), None)
            if died is None and not self.web_ready:
                self.web_ready = self._web_answers()
                if self.web_ready:
                    self._print_banner()
            time.sleep(POLL_SECONDS)

        if died is not None:
            emit(
                "run_dev",
                f"{died.name} stopped unexpectedly ({describe_exit(died.process.returncode)}); stopping the others.",
            )
        else:
            emit("run_dev", f"{signal.Signals(self.stop_signal).name} received; stopping (Ctrl-C again to force).")
        self._stop_all()
        if died is not None:
            emit("run_dev", f"Stopped because {died.name} died.")
            return 1
        emit("run_dev", "All processes stopped.")
        return 0

    def _web_answers(self) -> bool:
        # Any HTTP response will do (the login redirect, even an error page): the server is up.
        connection = http.client.HTTPConnection(HOST, int(self.port), timeout=1)
        try:
            connection.request("HEAD", "/accounts/login/")
            connection.getresponse()
        except OSError:
            return False
        finally:
            connection.close()
        return True

    def _print_banner(self) -> None:
        for line in (
            "",
            f"CRM running at http://{HOST}:{self.port}/",
            f"Demo logins: {', '.join(DEMO_USERS)} (password: {DEMO_PASSWORD})",
            "Jobs: Celery worker and beat (the broker is on the [worker] 'transport' line above;",
            "schedules are in admin, Periodic tasks). Ctrl-C stops everything.",
            "",
        ):
            emit("run_dev", line)

    def _stop_all(self) -> None:
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while any(child.running for child in self.children) and time.monotonic() < deadline and not self.forced:
            time.sleep(POLL_SECONDS)
        for child in self.children:
            if child.running:
                reason = "on a second Ctrl-C" if self.forced else f"after {STOP_TIMEOUT_SECONDS:.0f} s"
                emit("run_dev", f"Killing {child.name} ({reason}).")
            child.kill()
            child.process.wait()
            child.relay.join(timeout=2)


def main() -> int:
    port = os.environ.get("PORT", "8000")
    if not port.isdigit():
        emit("run_dev", f"PORT must be a number, not {port!r}.")
        return 2
    return Supervisor(port).run()


if __name__ == "__main__":
    sys.exit(main())
