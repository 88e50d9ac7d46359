"""Control of the throwaway cluster's postmaster: SIGKILL and restart.

Runs inside scripts/with-cluster.sh (pg_virtualenv -t): the PG* variables name
the cluster, PG_CLUSTER_CONF_ROOT its private configuration directory.
"""

import os
import signal
import subprocess
import time

import psycopg

from common import connect


def _children(pid):
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(name))
    return kids


def _server_processes(datadir):
    """Every process running in the data directory: the server's processes
    keep it as their working directory. A backend forked just before the
    postmaster was killed is not among the children counted at the kill."""
    found = []
    real = os.path.realpath(datadir)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            if os.path.realpath(f"/proc/{name}/cwd") == real:
                found.append(int(name))
        except OSError:
            continue
    return found


def _alive(pid):
    """True while the process exists, zombies included (PostgreSQL's lock
    files treat a zombie's PID as alive, so a restart must wait for the reap)."""
    return os.path.exists(f"/proc/{pid}")


class Cluster:
    def __init__(self):
        with connect("reliability-control") as conn:
            q = lambda s: conn.execute(s).fetchone()[0]  # noqa: E731
            self.datadir = q("SHOW data_directory")
            self.config_file = q("SHOW config_file")
            self.port = int(q("SHOW port"))
            self.socket_dirs = [d.strip() for d in q("SHOW unix_socket_directories").split(",")
                                if d.strip()]
            self.fsync = q("SHOW fsync")
        # .../<version>/<cluster>/postgresql.conf
        parts = self.config_file.split("/")
        self.version, self.name = parts[-3], parts[-2]
        root = os.environ.get("PG_CLUSTER_CONF_ROOT")
        self.logfile = None
        if root:
            cand = os.path.join(os.path.dirname(root), "log",
                                f"postgresql-{self.version}-{self.name}.log")
            if os.path.exists(cand):
                self.logfile = cand
        self.log_offset = os.path.getsize(self.logfile) if self.logfile else 0

    def postmaster_pid(self):
        with open(os.path.join(self.datadir, "postmaster.pid"), encoding="ascii") as f:
            return int(f.readline().strip())

    def set_fsync(self, on):
        """fsync can change with a reload; ALTER SYSTEM keeps it across restarts."""
        with connect("reliability-control") as conn:
            conn.execute(f"ALTER SYSTEM SET fsync = {'on' if on else 'off'}")
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.time() + 10
        while time.time() < deadline:
            with connect("reliability-control") as conn:
                self.fsync = conn.execute("SHOW fsync").fetchone()[0]
            if self.fsync == ("on" if on else "off"):
                return
            time.sleep(0.1)
        raise RuntimeError("fsync setting did not take effect")

    def kill(self, mode):
        """SIGKILL the postmaster; with mode 'all' its children too, at once.
        Returns (postmaster pid, number of children it had)."""
        pm = self.postmaster_pid()
        kids = _children(pm)
        os.kill(pm, signal.SIGKILL)
        if mode == "all":
            for k in kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._dead = [pm] + kids
        return pm, len(kids)

    def restart(self, timeout=60):
        """Waits for the old processes to go, starts the cluster, waits until
        it accepts connections. Returns the seconds it took."""
        t0 = time.time()
        deadline = t0 + timeout
        # Orphaned backends notice the postmaster's death at their next wait and
        # exit; whatever is still there after a while is killed.
        soft = t0 + 15
        self._dead = getattr(self, "_dead", [])
        self._dead += [p for p in _server_processes(self.datadir) if p not in self._dead]
        while any(_alive(p) for p in self._dead):
            if time.time() > soft:
                for p in self._dead:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if time.time() > deadline:
                raise RuntimeError(f"old server processes still there: {self._dead}")
            time.sleep(0.05)
        last = None
        while time.time() < deadline:
            rc = subprocess.run(["pg_ctlcluster", self.version, self.name, "start"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if rc.returncode == 0:
                break
            last = rc.stdout
            time.sleep(0.5)
        else:
            raise RuntimeError(f"pg_ctlcluster start failed: {last}")
        while time.time() < deadline:
            try:
                with connect("reliability-control", timeout=2) as conn:
                    conn.execute("SELECT 1")
                return time.time() - t0
            except psycopg.Error:
                time.sleep(0.1)
        raise RuntimeError("cluster did not accept connections after restart")

    def server_log_problems(self):
        """Lines of the server log that show a crash we did not cause."""
        if not self.logfile:
            return None
        bad = []
        with open(self.logfile, encoding="utf-8", errors="replace") as f:
            f.seek(self.log_offset)
            for line in f:
                if ("terminated by signal" in line or "PANIC" in line
                        or "was terminated by exception" in line):
                    bad.append(line.strip())
        return bad
