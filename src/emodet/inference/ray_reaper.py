"""Ending what a local Ray cluster leaves behind when its driver is killed outright (SIGKILL, the OOM killer).

Ray ties the processes of a cluster started by ``ray.init()`` to the driver, and its workers notice
the raylet's death within a second; but the raylet's two agents (the dashboard agent and the
runtime-env agent) then try to report that death to the GCS, which died too, and Ray waits 60 s
(hard-coded) before they give up: a minute of stray processes after every killed job.

:func:`start_reaper` starts a small watchdog process beside a local cluster. It waits on a pipe
only the driver holds: when the driver ends the job it says so (:meth:`Reaper.done`) and the
watchdog leaves at once; when the driver dies, the pipe closes unsaid, and the watchdog ends what
is left of the cluster: the raylet's children it saw while waiting (the agents) and the workers
(marked by Ray's ``RAY_RAYLET_PID`` in their environment), a second after Ray's own cleanup.
Linux only (it reads ``/proc``); elsewhere Ray's own cleanup applies.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

#: Seconds the watchdog leaves Ray's own cleanup before it ends what remains.
GRACE_SECONDS = 1.0
#: Seconds between two looks at the raylet's children while the driver runs.
POLL_SECONDS = 2.0
#: What the driver writes when the job ended normally (ray.shutdown() has stopped everything).
DONE = b"done\n"


class Reaper:
    """The driver's end of the watchdog: keep it open while Ray runs; :meth:`done` after ``ray.shutdown()``."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def done(self) -> None:
        try:
            self.process.stdin.write(DONE)
            self.process.stdin.close()
        except OSError:  # the watchdog is gone already: nothing to tell
            pass


def start_reaper() -> Reaper | None:
    """A watchdog for the local cluster this process started (its raylet is a child of this process),
    or ``None`` where there is nothing to watch (no raylet child, not Linux)."""
    raylet = next((pid for pid in _children(os.getpid()) if _read(pid, "comm").strip() == b"raylet"), None)
    if raylet is None:
        return None
    process = subprocess.Popen([sys.executable, "-m", "emodet.inference.ray_reaper", str(raylet)],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # out of the job's process group: a kill -9 of it spares this
    return Reaper(process)


def watch(raylet: int) -> list[int]:
    """Wait for the driver (standard input), noting the raylet's children meanwhile; if the driver died
    without saying DONE, end what is left of the cluster. Returns the processes ended."""
    seen: dict[int, bytes] = {}  # pid -> start time, so that a pid taken by a new process is spared
    said = b""
    while True:
        seen.update((pid, _start_time(pid)) for pid in _children(raylet))
        ready, _, _ = select.select([sys.stdin.buffer], [], [], POLL_SECONDS)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 64)
            if not chunk:
                break
            said += chunk
    if said == DONE:
        return []
    time.sleep(GRACE_SECONDS)
    left = {pid for pid, start in seen.items() if start and _start_time(pid) == start} | set(_workers(raylet))
    ended = []
    for pid in sorted(left):
        try:
            os.kill(pid, signal.SIGKILL)
            ended.append(pid)
        except OSError:  # gone meanwhile
            pass
    return ended


def _workers(raylet: int) -> list[int]:
    """Ray's workers of the raylet ``raylet``, wherever they are in the process tree now."""
    marker = f"RAY_RAYLET_PID={raylet}".encode()
    return [pid for pid in _pids() if marker in _read(pid, "environ").split(b"\0")]


def _pids() -> Iterator[int]:
    try:
        entries = os.listdir("/proc")
    except OSError:  # not Linux
        return iter(())
    return (int(name) for name in entries if name.isdigit())


def _children(parent: int) -> list[int]:
    children = []
    for pid in _pids():
        fields = _stat_fields(pid)
        if len(fields) > 1 and fields[1] == str(parent).encode():
            children.append(pid)
    return children


def _stat_fields(pid: int) -> list[bytes]:
    """/proc/PID/stat after "pid (comm) ": state, ppid, ... (field N of proc(5) at index N - 3)."""
    stat = _read(pid, "stat")
    return stat[stat.rfind(b")") + 2:].split()


def _start_time(pid: int) -> bytes:
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else b""


def _read(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # gone, or another user's
        return b""


if __name__ == "__main__":
    watch(int(sys.argv[1]))
