"""Throwaway PostgreSQL 15 servers for the router's tests: one router and N
shards, each its own initdb'd data directory under one temporary directory,
listening on a random free loopback port with trust authentication.

    with RouterCluster(shards=4) as rc:
        rc.router_env()            # PG* variables for a client of the router
        rc.shards[2].stop("immediate"); rc.shards[2].start()

Everything (servers, files) is removed when the block ends, even on error.
As root the servers run as the postgres user (initdb refuses root).
"""

import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg

PG_BIN = "/usr/lib/postgresql/15/bin"
DB = "baseledger"  # the router's database
CLUSTER = "baseledger"


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_range():
    # Below the kernel's ephemeral range: a port inside it can be the local
    # end of any client connection, and a server then fails to bind it.
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except OSError:
        low, high = 32768, 60999
    if low - 1 > 15000:
        return 15000, low - 1
    return high + 1, 65535


def free_port(taken):
    first, last = _port_range()
    for _ in range(200):
        port = random.randint(first, last)
        if port not in taken and _port_free(port) and \
                not os.path.exists(f"/var/run/postgresql/.s.PGSQL.{port}"):
            taken.add(port)
            return port
    raise RuntimeError("no free port found")


class Server:
    """One PostgreSQL server in its own data directory."""

    def __init__(self, name, root, port, dbname, settings=None):
        self.name = name
        self.dbname = dbname
        self.root = root
        self.port = port
        self.datadir = os.path.join(root, name)
        self.logfile = os.path.join(root, f"{name}.log")
        self.settings = settings or {}
        self.running = False

    def _run(self, args, **kw):
        cmd = list(args)
        if not os.path.isabs(cmd[0]):
            cmd[0] = os.path.join(PG_BIN, cmd[0])
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **kw)

    def init(self, template=None):
        """initdb, or a copy of a stopped template server's data directory."""
        if template is None:
            self._run(["initdb", "-D", self.datadir, "-A", "trust", "-U", "postgres", "-E",
                       "UTF8", "--locale=C", "--no-sync"])
        else:
            self._run(["/bin/cp", "-a", template.datadir, self.datadir])
            return
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": 60,
            "shared_buffers": "'64MB'",
            # Throwaway servers on one machine: durability against an OS crash
            # is not under test (a stopped or killed server loses nothing:
            # its WAL is in the OS's cache). Benchmarks measure CPU, not disks.
            "fsync": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        conf.update(self.settings)
        with open(os.path.join(self.datadir, "postgresql.auto.conf"), "a", encoding="utf-8") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")

    def start(self):
        self._run(["pg_ctl", "-D", self.datadir, "-l", self.logfile, "-w", "-t", "60",
                   "-o", f"-p {self.port}", "start"])
        self.running = True

    def stop(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "60", "stop"])
        self.running = False

    def connstr(self):
        """What the cluster definition names: host, port and database."""
        return f"host=127.0.0.1 port={self.port} dbname={self.dbname}"

    def conninfo(self, dbname=None):
        return f"host=127.0.0.1 port={self.port} dbname={dbname or self.dbname} user=postgres"

    def connect(self, dbname=None, autocommit=True, **kw):
        return psycopg.connect(self.conninfo(dbname), autocommit=autocommit, connect_timeout=5,
                               **kw)

    def env(self, dbname=None):
        e = dict(os.environ)
        e.update(PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER="postgres",
                 PGDATABASE=dbname or self.dbname)
        e.pop("PGPASSWORD", None)
        e.pop("PGSERVICE", None)
        return e


class RouterCluster:
    """A router and `shards` shard servers (a power of two)."""

    def __init__(self, shards=4, keep=False, settings=None):
        if shards < 1 or shards & (shards - 1):
            raise ValueError("the number of shards must be a power of two")
        self.n = shards
        self.keep = keep
        self.settings = settings or {}
        self.root = None
        self.router = None
        self.shards = []

    # ------------------------------------------------------------ life cycle

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="baseledger-router.")
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        try:
            taken = set()
            # Each shard's database is named after its partition, so that an
            # error passed on by PL/Proxy ("[ledger_p2] REMOTE ERROR: ...")
            # says which shard raised it.
            self.router = Server("router", self.root, free_port(taken), DB, self.settings)
            self.shards = [Server(f"shard{i}", self.root, free_port(taken), f"ledger_p{i}",
                                  self.settings) for i in range(self.n)]
            self.router.init()
            for s in self.shards:
                s.init(template=self.router)
            for s in [self.router] + self.shards:
                s.start()
            for s in [self.router] + self.shards:
                with s.connect("postgres") as c:
                    c.execute(f"CREATE DATABASE {s.dbname}")
            self.install()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for s in [self.router] + self.shards:
            if s is not None and s.running:
                try:
                    s.stop("immediate")
                except subprocess.CalledProcessError:
                    pass
        if self.root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        return False

    # ------------------------------------------------------------ set-up

    def install(self):
        """baseledger on every shard; the router extension and the cluster
        definition (the PL/Proxy foreign server) on the router."""
        self.reset_shards()
        with self.router.connect() as c:
            c.execute("SET client_min_messages = warning")
            c.execute("CREATE EXTENSION plproxy")
            c.execute("CREATE EXTENSION baseledger_router")
            self.define_cluster(c, [s.connstr() for s in self.shards])

    @staticmethod
    def define_cluster(conn, connstrs):
        opts = ", ".join(f"p{i} '{cs}'" for i, cs in enumerate(connstrs))
        conn.execute(f"CREATE SERVER {CLUSTER} FOREIGN DATA WRAPPER plproxy "
                     f"OPTIONS (connection_lifetime '1800', {opts})")
        conn.execute(f"CREATE USER MAPPING FOR PUBLIC SERVER {CLUSTER} "
                     "OPTIONS (user 'postgres')")

    def reset_shards(self):
        """A fresh baseledger on every shard (drops every wallet)."""
        for s in self.shards:
            with s.connect() as c:
                c.execute("SET client_min_messages = warning")
                c.execute("DROP EXTENSION IF EXISTS baseledger CASCADE")
                c.execute("CREATE EXTENSION baseledger")

    # ------------------------------------------------------------ queries

    def partition_of(self, wallet_id):
        with self.router.connect() as c:
            return c.execute("SELECT ledger.ledger_router_partition(%s)",
                             (wallet_id,)).fetchone()[0]

    def shard_rows(self, sql, params=None):
        """The rows of sql on each shard: a list with one list per shard."""
        out = []
        for s in self.shards:
            with s.connect() as c:
                out.append(c.execute(sql, params).fetchall())
        return out

    def wait_ready(self, server, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with server.connect():
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"{server.name} did not come back")
