"""The growth procedure of router/README.md, from 2 partitions to 4.

The cluster starts with two partitions on shard servers 0 and 1; wallets of
sixteen tenants are written through the router. Then, as the README says:

  1. partitions 2 and 3 are added with the connection strings of 0 and 1:
     nothing moves, every wallet is still found;
  2./3. for each new partition in turn: calls for it are stopped (its
     connection string points at a closed port), the old server is copied
     to the new one (here a copy of the stopped server's data directory, in
     place of a promoted streaming replica), its database renamed after the
     partition, and the partition pointed at the copy;
  4. each copy's other half is deleted (the event log's DELETE trigger
     disabled for that transaction only).

Checked: every wallet's balance and last seq are as before; each shard holds
only its partition's wallets; new writes go to the right shard;
ledger_expire() counts each lapsed hold once; verify is clean (the harness).
"""

import os
import shutil
import subprocess
import time

from cluster import CLUSTER, RouterCluster

CLEANUP = """
BEGIN;
ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete;
DELETE FROM ledger.events       WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.reservations WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.wallets      WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.limits       WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.limit_usage  WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.alert_rules  WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.alerts       WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
DELETE FROM ledger.grants       WHERE hashtext(split_part(wallet_id, '/', 1)) & {mask} <> {keep};
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
COMMIT;
"""


def set_opts(rc, sql):
    with rc.router.connect() as c:
        c.execute(f"ALTER SERVER {CLUSTER} OPTIONS ({sql})")


def state(rc, wallets):
    with rc.router.connect() as c:
        # Balance and last seq: reserved changes by itself when a hold lapses.
        return {w: c.execute("SELECT balance, last_seq FROM ledger.ledger_balance(%s)",
                             (w,)).fetchone() for w in wallets}


def copy_server(src, dst):
    """dst becomes a copy of src: both stopped, src's files copied, both started."""
    src.stop("fast")
    if dst.running:
        dst.stop("fast")
    shutil.rmtree(dst.datadir)
    cmd = ["/bin/cp", "-a", src.datadir, dst.datadir]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True)
    # The port is given on the command line at start (Server.start); the
    # copy's database is renamed after its partition before anyone uses it.
    src.start()
    dst.start()
    with dst.connect("postgres") as c:
        c.execute(f"ALTER DATABASE {src.dbname} RENAME TO {dst.dbname}")


def run(rc, args, tally):
    # Two partitions on shards 0 and 1.
    with rc.router.connect() as c:
        c.execute(f"DROP SERVER IF EXISTS {CLUSTER} CASCADE")
        RouterCluster.define_cluster(c, [s.connstr() for s in rc.shards[:2]])
    rc.reset_shards()
    tenants = [f"grow{i:02d}" for i in range(16)]
    wallets = [f"{t}/{a}" for t in tenants for a in ("a", "b/c")]
    # Their ancestors: each tenant's funded root, and an uncapped middle level.
    ancestors = [w for t in tenants for w in (t, f"{t}/b")]
    with rc.router.connect() as c:
        for t in tenants:
            c.execute("SELECT ledger.ledger_create_wallet(%s)", (t,))
            c.execute("SELECT ledger.ledger_credit(%s, 1000000, 'k0')", (t,))
            c.execute("SELECT ledger.ledger_create_wallet(%s, capped => false)", (f"{t}/b",))
        for n, w in enumerate(wallets):
            c.execute("SELECT ledger.ledger_create_wallet(%s)", (w,))
            c.execute("SELECT ledger.ledger_credit(%s, %s, 'k1')", (w, 1000 + n))
            c.execute("SELECT ledger.ledger_debit(%s, 7, 'k2')", (w,))
            c.execute("SELECT ledger.ledger_reserve(%s, 5, '3 seconds', 'k3')", (w,))
    lapse = time.time() + 3.1
    before = state(rc, wallets)
    old = [rc.shards[0].connstr(), rc.shards[1].connstr()]

    # 1. Double the partitions without moving anything.
    set_opts(rc, f"ADD p2 '{old[0]}', ADD p3 '{old[1]}'")
    tally.add(state(rc, wallets) == before,
              "split: 4 partitions on 2 servers: every wallet found as before")
    with rc.router.connect() as c:
        parts = {w: c.execute("SELECT ledger.ledger_router_partition(%s)", (w,)).fetchone()[0]
                 for w in wallets + ancestors}
    tally.add(set(parts.values()) == {0, 1, 2, 3}, "split: the tenants cover all 4 partitions",
              str(sorted(set(parts.values()))))

    # 2./3. Cut over partition 2 (to shard 2) and 3 (to shard 3), one at a time.
    for new, src in ((2, 0), (3, 1)):
        set_opts(rc, f"SET p{new} 'host=127.0.0.1 port=1 dbname=closed connect_timeout=1'")
        moving = [w for w in wallets if parts[w] == new]
        staying = [w for w in wallets if parts[w] == src]
        with rc.router.connect() as c:
            try:
                c.execute("SELECT ledger.ledger_balance(%s)", (moving[0],))
                stopped = False
            except Exception as exc:  # noqa: BLE001
                stopped = "PQconnectPoll" in str(exc)
            ok_other = c.execute("SELECT count(*) FROM ledger.ledger_balance(%s)",
                                 (staying[0],)).fetchone()[0] == 1
        tally.add(stopped and ok_other,
                  f"split: while partition {new} is cut over, its tenants fail and "
                  f"partition {src}'s are served")
        copy_server(rc.shards[src], rc.shards[new])
        set_opts(rc, f"SET p{new} '{rc.shards[new].connstr()}'")
    tally.add(state(rc, wallets) == before,
              "split: after the cut-over every wallet is found as before")

    # 4. Remove the other half from each copy.
    for p in range(4):
        with rc.shards[p].connect() as c:
            c.execute(CLEANUP.format(mask=3, keep=p))
    where = rc.shard_rows("SELECT wallet_id FROM ledger.wallets")
    misplaced = [(p, w) for p, rows in enumerate(where) for (w,) in rows if parts[w] != p]
    counts = [len(r) for r in where]
    tally.add(not misplaced and sum(counts) == len(wallets) + len(ancestors),
              "split: each shard holds exactly its partition's wallets",
              f"wallets per shard {counts}; misplaced {misplaced[:3]}")
    tally.add(state(rc, wallets) == before, "split: after the clean-up every wallet is as before")
    # The lapsed holds: one each, expired once over the cluster.
    time.sleep(max(0.0, lapse - time.time()))
    with rc.router.connect() as c:
        expired = c.execute("SELECT ledger.ledger_expire()").fetchone()[0]
        # New writes land on the partition's new server.
        for w in wallets:
            c.execute("SELECT ledger.ledger_credit(%s, 1, 'after-split')", (w,))
    tally.add(expired == len(wallets), "split: ledger_expire() expires each lapsed hold once",
              f"{expired} for {len(wallets)} holds")
    got = rc.shard_rows("SELECT count(*) FROM ledger.events WHERE idempotency_key = 'after-split'")
    want = [sum(1 for w in wallets if parts[w] == p) for p in range(4)]
    tally.add([g[0][0] for g in got] == want, "split: new writes go to the partition's new server",
              f"{[g[0][0] for g in got]} vs {want}")
    # Back to the harness's four-shard definition for the stages after this one.
    with rc.router.connect() as c:
        c.execute(f"DROP SERVER {CLUSTER} CASCADE")
        RouterCluster.define_cluster(c, [s.connstr() for s in rc.shards])
