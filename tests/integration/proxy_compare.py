#!/usr/bin/python3
"""Drives geokv-proxy and a real redis-server with the same commands and compares the replies.

    proxy_compare.py compare PROXY_PORT REDIS_PORT   every command of SCRIPT, reply by reply
    proxy_compare.py wire PROXY_PORT REDIS_PORT      malformed and inline requests, byte by byte
    proxy_compare.py load PROXY_PORT                 a 1,000-command pipeline, 200 connections
                                                     at once, clients that leave mid-pipeline
    proxy_compare.py limits PROXY_PORT               keys and values over geokv's limits

The redis-server compared with runs with `--databases 1`, as the proxy has one database.
Uses Debian's python3-redis (redis-py 4.3), run by /usr/bin/python3. Exit status 0 when
everything matched; otherwise every difference is printed.
"""
import socket
import sys
import threading
import time

import redis

# Where geokv-proxy differs from Redis on purpose (docs/proxy.md): TTLs are whole seconds on
# geokv, and a hash's fields come back in field order, not insertion order.
APPROX = "approx"      # a TTL in seconds within 1 of Redis's
APPROX_MS = "approx_ms"  # a TTL in ms within 1,000 of Redis's
UNORDERED = "unordered"  # same elements, any order

# (command, how to compare). Keys are fresh per run (prefix), so a rerun starts clean.
SCRIPT = [
    (["PING"], None), (["PING", "hello"], None), (["PING", "a", "b"], None),
    (["ECHO", "x y"], None), (["ECHO"], None),
    (["SELECT", "0"], None), (["SELECT", "1"], None), (["SELECT", "x"], None),
    (["NOSUCHCMD", "a", "b"], None), (["GET"], None), (["GET", "a", "b"], None),
    # strings
    (["SET", "{p}s", "v1"], None), (["GET", "{p}s"], None), (["GET", "{p}none"], None),
    (["SET", "{p}s", "v2", "NX"], None), (["SET", "{p}s2", "v", "NX"], None),
    (["SET", "{p}s", "v3", "XX"], None), (["SET", "{p}s3", "v", "XX"], None),
    (["SET", "{p}s", "v4", "GET"], None), (["SET", "{p}new", "v", "GET"], None),
    (["SET", "{p}s", "v5", "NX", "GET"], None), (["GET", "{p}s"], None),
    (["SET", "{p}s", "v", "NX", "XX"], None), (["SET", "{p}s", "v", "EX"], None),
    (["SET", "{p}s", "v", "EX", "abc"], None), (["SET", "{p}s", "v", "EX", "0"], None),
    (["SET", "{p}s", "v", "EX", "-5"], None), (["SET", "{p}s", "v", "EX", "10", "PX", "100"], None),
    (["SET", "{p}s", "v", "FOO"], None), (["SET", "{p}s", "v", "KEEPTTL", "EX", "5"], None),
    (["SET", "{p}t", "v", "EX", "100"], None), (["TTL", "{p}t"], APPROX),
    (["SET", "{p}t", "w", "KEEPTTL"], None), (["TTL", "{p}t"], APPROX),
    (["SET", "{p}t", "x"], None), (["TTL", "{p}t"], None),
    (["SET", "{p}gone", "v", "EXAT", "1"], None), (["GET", "{p}gone"], None),
    (["SET", "{p}gone2", "v", "PXAT", "1000"], None), (["EXISTS", "{p}gone2"], None),
    (["SETNX", "{p}s", "x"], None), (["SETNX", "{p}nx", "x"], None), (["GET", "{p}nx"], None),
    (["SETEX", "{p}ex", "100", "v"], None), (["TTL", "{p}ex"], APPROX), (["GET", "{p}ex"], None),
    (["SETEX", "{p}ex", "0", "v"], None), (["SETEX", "{p}ex", "x", "v"], None),
    (["PSETEX", "{p}pex", "100000", "v"], None), (["PTTL", "{p}pex"], APPROX_MS),
    (["PSETEX", "{p}pex", "-1", "v"], None),
    (["GETSET", "{p}s", "gs"], None), (["GETSET", "{p}gsnew", "x"], None), (["GET", "{p}s"], None),
    (["GETDEL", "{p}s"], None), (["GETDEL", "{p}s"], None), (["GET", "{p}s"], None),
    (["MSET", "{p}m1", "a", "{p}m2", "b", "{p}m3", "c"], None), (["MSET", "{p}m1"], None),
    (["MSET", "{p}m1", "a", "{p}m2"], None),
    (["MGET", "{p}m1", "{p}none", "{p}m3", "{p}m2"], None),
    (["MSETNX", "{p}m1", "x", "{p}m4", "y"], None), (["MGET", "{p}m1", "{p}m4"], None),
    (["MSETNX", "{p}m5", "x", "{p}m6", "y"], None), (["MGET", "{p}m5", "{p}m6"], None),
    (["INCR", "{p}n"], None), (["INCR", "{p}n"], None), (["INCRBY", "{p}n", "10"], None),
    (["DECR", "{p}n"], None), (["DECRBY", "{p}n", "5"], None), (["GET", "{p}n"], None),
    (["INCRBY", "{p}n", "x"], None), (["INCRBY", "{p}n", "1.5"], None), (["INCR", "{p}m1"], None),
    (["DECRBY", "{p}n", "-9223372036854775808"], None),
    (["SET", "{p}big", "9223372036854775807"], None), (["INCR", "{p}big"], None),
    (["SET", "{p}neg", "-9223372036854775808"], None), (["DECR", "{p}neg"], None),
    (["INCRBY", "{p}n", "99999999999999999999"], None),
    (["SET", "{p}emp", ""], None), (["INCR", "{p}emp"], None), (["SET", "{p}sp", " 5"], None),
    (["INCR", "{p}sp"], None), (["SET", "{p}plus", "+5"], None), (["INCRBY", "{p}plus", "2"], None),
    (["HSET", "{p}hh", "f", ""], None), (["HINCRBY", "{p}hh", "f", "1"], None),
    (["APPEND", "{p}ap", "Hello"], None), (["APPEND", "{p}ap", " World"], None),
    (["GET", "{p}ap"], None), (["STRLEN", "{p}ap"], None), (["STRLEN", "{p}none"], None),
    # keys
    (["EXISTS", "{p}ap", "{p}none", "{p}ap"], None), (["TYPE", "{p}ap"], None),
    (["TYPE", "{p}none"], None), (["DEL", "{p}ap", "{p}none", "{p}m1"], None),
    (["UNLINK", "{p}m2", "{p}m2"], None), (["EXISTS", "{p}ap", "{p}m2"], None),
    (["SET", "{p}e", "v"], None), (["TTL", "{p}e"], None), (["TTL", "{p}none"], None),
    (["PTTL", "{p}none"], None), (["EXPIRE", "{p}e", "100"], None), (["TTL", "{p}e"], APPROX),
    (["EXPIRE", "{p}e", "200", "NX"], None), (["EXPIRE", "{p}e", "300", "XX"], None),
    (["TTL", "{p}e"], APPROX), (["EXPIRE", "{p}e", "100", "GT"], None),
    (["EXPIRE", "{p}e", "100", "LT"], None), (["TTL", "{p}e"], APPROX),
    (["EXPIRE", "{p}e", "100", "NX", "XX"], None), (["EXPIRE", "{p}e", "100", "GT", "LT"], None),
    (["EXPIRE", "{p}e", "100", "FOO"], None), (["EXPIRE", "{p}e", "x"], None),
    (["EXPIRE", "{p}none", "100"], None), (["PERSIST", "{p}e"], None), (["TTL", "{p}e"], None),
    (["PERSIST", "{p}e"], None), (["PERSIST", "{p}none"], None),
    (["EXPIRE", "{p}e", "100", "XX"], None), (["EXPIRE", "{p}e", "100", "GT"], None),
    (["PEXPIRE", "{p}e", "50000"], None), (["PTTL", "{p}e"], APPROX_MS),
    (["EXPIREAT", "{p}e", "4000000000"], None), (["EXPIRE", "{p}e", "-1"], None),
    (["EXISTS", "{p}e"], None), (["SET", "{p}e2", "v"], None), (["EXPIREAT", "{p}e2", "1"], None),
    (["SET", "{p}e3", "v"], None), (["PEXPIRE", "{p}e3", "9223372036854775807"], None),
    (["EXPIRE", "{p}e3", "9223372036854775"], None), (["GET", "{p}e3"], None),
    (["GET", "{p}e2"], None),
    # hashes
    (["HSET", "{p}h", "f1", "v1", "f2", "v2"], None), (["HSET", "{p}h", "f2", "x", "f3", "v3"], None),
    (["HSET", "{p}h", "f4", "a", "f4", "b"], None), (["HGET", "{p}h", "f4"], None),
    (["HSET", "{p}h", "f1"], None), (["HSET", "{p}h"], None),
    (["HGET", "{p}h", "f2"], None), (["HGET", "{p}h", "nope"], None), (["HGET", "{p}none", "f"], None),
    (["HMGET", "{p}h", "f1", "nope", "f3"], None), (["HLEN", "{p}h"], None),
    (["HLEN", "{p}none"], None), (["HEXISTS", "{p}h", "f1"], None), (["HEXISTS", "{p}h", "no"], None),
    (["HGETALL", "{p}h"], None), (["HGETALL", "{p}none"], None),
    (["HKEYS", "{p}h"], UNORDERED), (["HVALS", "{p}h"], UNORDERED),
    (["HDEL", "{p}h", "f1", "nope", "f1"], None), (["HDEL", "{p}none", "f"], None),
    (["HLEN", "{p}h"], None), (["HSETNX", "{p}h", "f2", "y"], None),
    (["HSETNX", "{p}h", "f9", "y"], None), (["HGET", "{p}h", "f9"], None),
    (["HINCRBY", "{p}h", "cnt", "5"], None), (["HINCRBY", "{p}h", "cnt", "-7"], None),
    (["HINCRBY", "{p}h", "f2", "1"], None), (["HINCRBY", "{p}h", "cnt", "x"], None),
    (["HMSET", "{p}h2", "a", "1", "b", "2"], None), (["HGETALL", "{p}h2"], None),
    (["TYPE", "{p}h"], None), (["EXISTS", "{p}h"], None),
    # wrong types
    (["GET", "{p}h"], None), (["STRLEN", "{p}h"], None), (["APPEND", "{p}h", "x"], None),
    (["INCR", "{p}h"], None), (["GETSET", "{p}h", "x"], None), (["SET", "{p}h", "x", "GET"], None),
    (["SET", "{p}str", "v"], None), (["HSET", "{p}str", "f", "v"], None),
    (["HGET", "{p}str", "f"], None), (["HGETALL", "{p}str"], None), (["HLEN", "{p}str"], None),
    (["HINCRBY", "{p}str", "f", "1"], None), (["HSETNX", "{p}str", "f", "v"], None),
    (["HDEL", "{p}str", "f"], None),
    (["MGET", "{p}h", "{p}str"], None),
    # SET replaces a hash; DEL removes one
    (["SET", "{p}h2", "now a string"], None), (["TYPE", "{p}h2"], None), (["GET", "{p}h2"], None),
    (["EXPIRE", "{p}h", "100"], None), (["TTL", "{p}h"], APPROX), (["PERSIST", "{p}h"], None),
    (["TTL", "{p}h"], None), (["DEL", "{p}h"], None), (["HLEN", "{p}h"], None),
    (["TYPE", "{p}h"], None),
    # the connection
    (["CLIENT", "GETNAME"], None), (["CLIENT", "SETNAME", "my-app"], None),
    (["CLIENT", "GETNAME"], None), (["CLIENT", "SETNAME", "a b"], None),
    (["CLIENT", "SETNAME"], None), (["CLIENT", "NOSUCH"], None),
    (["HELLO", "4"], None), (["HELLO", "x"], None), (["HELLO", "2", "FOO"], None),
    (["COMMAND", "NOSUCH"], None), (["CONFIG", "NOSUCH"], None),
    # the cursors differ: only the errors here, the results in scans() below
    (["SCAN", "x"], None), (["SCAN", "0", "COUNT", "0"], None),
    (["SCAN", "0", "COUNT", "x"], None), (["SCAN", "0", "MATCH"], None),
    (["SCAN", "0", "FOO", "1"], None), (["HSCAN", "{p}str", "0"], None),
    (["HSCAN", "{p}h2", "x"], None), (["DBSIZE", "x"], None),
]


def reply_of(conn, args):
    """What conn answers to args: ("ok", value) or ("err", message)."""
    try:
        return ("ok", conn.execute_command(*args))
    except redis.ResponseError as e:
        return ("err", str(e))


def same(a, b, how):
    if a == b:
        return True
    if a[0] != "ok" or b[0] != "ok":
        return False
    if how in (APPROX, APPROX_MS) and isinstance(a[1], int) and isinstance(b[1], int):
        return abs(a[1] - b[1]) <= (1 if how == APPROX else 1000)
    if how == UNORDERED and isinstance(a[1], list) and isinstance(b[1], list):
        return sorted(a[1]) == sorted(b[1])
    return False


def compare(proxy_port, redis_port):
    prefix = "c%d:" % int(time.time() * 1000)
    p = redis.Redis(port=proxy_port, socket_timeout=30)
    r = redis.Redis(port=redis_port, socket_timeout=30)
    bad = 0
    for cmd, how in SCRIPT:
        args = [a.replace("{p}", prefix) for a in cmd]
        got, want = reply_of(p, args), reply_of(r, args)
        if not same(got, want, how):
            bad += 1
            print("DIFF %s\n  geokv-proxy: %r\n  redis-server: %r" % (" ".join(args), got, want))
    # HELLO with the rest of the reply checked by hand: the id differs
    hello = p.execute_command("HELLO", "2")
    hello = dict(zip(hello[::2], hello[1::2]))
    if hello.get(b"proto") != 2 or hello.get(b"server") != b"redis":
        bad += 1
        print("DIFF HELLO 2: %r" % hello)
    print("compare: %d commands, %d differences" % (len(SCRIPT), bad))
    return bad + scans(p, r, prefix)


def scans(p, r, prefix):
    """SCAN, HSCAN and DBSIZE name the same keys and fields on both, whatever the cursors."""
    bad = 0
    sizes = [c.dbsize() for c in (p, r)]
    for c in (p, r):
        for i in range(60):
            c.set("%ssc%d" % (prefix, i), i)
            c.hset("%ssch" % prefix, "f%d" % i, i)
    for c, size in zip((p, r), sizes):
        if c.dbsize() != size + 61:
            bad += 1
            print("DBSIZE went from %d to %d after 61 new keys" % (size, c.dbsize()))
    for args in ({"match": prefix + "sc*", "count": 7}, {"match": prefix + "sc1?"},
                 {"match": prefix + "sc[2-3]*", "count": 1000},
                 {"match": prefix + "*", "_type": "hash"},
                 {"match": prefix + "*", "_type": "string", "count": 3}):
        got, want = set(p.scan_iter(**args)), set(r.scan_iter(**args))
        if got != want:
            bad += 1
            print("DIFF SCAN %r\n  geokv-proxy: %r\n  redis-server: %r" % (args, got, want))
    for args in ({}, {"match": "f1*"}, {"match": "f[0-4]"}, {"match": "f[^1-5]?"},
                 {"match": "f\\1*"}, {"count": 5}):
        got = dict(p.hscan_iter(prefix + "sch", **args))
        want = dict(r.hscan_iter(prefix + "sch", **args))
        if got != want:
            bad += 1
            print("DIFF HSCAN %r\n  geokv-proxy: %r\n  redis-server: %r" % (args, got, want))
    first = p.execute_command("SCAN", "0", "COUNT", "5")
    again = [p.execute_command("SCAN", first[0], "COUNT", "5") for _ in range(2)]
    if again[0][1] != again[1][1]:
        bad += 1
        print("SCAN with one cursor twice: %r, then %r" % (again[0], again[1]))
    named = list(p.scan_iter(match=prefix + "sch", count=5))
    if len(named) not in (1, 2):
        bad += 1
        print("SCAN COUNT 5 named a 60-field hash %d times" % len(named))
    print("scans: %d differences" % bad)
    return bad


def raw(port, parts):
    """Sends each part (pausing between parts, so they arrive as separate reads), then reads
    until the server closes or goes quiet for a second."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    for i, part in enumerate(parts):
        if i > 0:
            time.sleep(0.2)
        s.sendall(part)
    s.settimeout(1.0)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


WIRE = [
    b"PING\r\n", b"ping hello\r\n", b"SET il 5\r\nGET il\r\nDEL il\r\n", b"\r\n\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n",
    b"*2\r\n$3\r\nGET\r\n$99999999999\r\n", b"*999999999999\r\n", b"*-1\r\n*1\r\n$4\r\nPING\r\n",
    b"*0\r\n*1\r\n$4\r\nPING\r\n", b"*1\r\n$4\r\nPING\r\n*1\r\n*1\r\n", b"*2\r\n:1\r\n",
    b"*1\r\n+PING\r\n", b"*1\r\n$x\r\n", b"*x\r\n", b"*1\r\n$-1\r\n",
    b"*3\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$3\r\nabcd\r\n",
]


# Requests sent in several packets (a pause between them): the parser's state between reads.
WIRE_PARTS = [
    [b"*1\r\n$4\r\nPING\r\n", b"PING\r\n", b"*1\r\n$4\r\nPING\r\n"],
    [b"*2\r\n$4\r\nECHO\r\n$5\r\nhe", b"llo\r\n", b"ECHO x\r\n"],
    [b"*" + b"1" * 70000],
    [b"*1\r\n$" + b"1" * 70000],
]


def wire(proxy_port, redis_port):
    bad = 0
    cases = [[data] for data in WIRE] + WIRE_PARTS
    for parts in cases:
        got, want = raw(proxy_port, parts), raw(redis_port, parts)
        if parts[0].startswith(b"*3\r\n$5\r\nHELLO"):  # the connection id differs: drop it
            got, want = got.split(b"id")[0], want.split(b"id")[0]
        if got != want:
            bad += 1
            print("DIFF %r\n  geokv-proxy: %r\n  redis-server: %r" % (parts[0][:60], got, want))
    print("wire: %d requests, %d differences" % (len(cases), bad))
    return bad


def clients(conn):
    return conn.info("clients")["connected_clients"]


def load(port):
    bad = 0
    prefix = "l%d:" % int(time.time() * 1000)
    p = redis.Redis(port=port, socket_timeout=60)
    before = clients(p)
    # one pipeline of 1,000 commands: replies in order
    pipe = p.pipeline(transaction=False)
    for i in range(500):
        pipe.set("%s%d" % (prefix, i), "v%d" % i)
        pipe.get("%s%d" % (prefix, i))
    res = pipe.execute()
    want = []
    for i in range(500):
        want += [True, b"v%d" % i]
    if res != want:
        bad += 1
        print("pipeline of 1000: wrong replies, first differences: %r" %
              [(i, a, b) for i, (a, b) in enumerate(zip(res, want)) if a != b][:5])
    # commands on one key run in the order sent, those on others alongside them
    pipe = p.pipeline(transaction=False)
    for i in range(100):
        pipe.incr(prefix + "ctr")
        pipe.set("%sside%d" % (prefix, i), i)
    res = pipe.execute()
    if res[::2] != list(range(1, 101)) or res[1::2] != [True] * 100:
        bad += 1
        print("pipelined INCRs out of order: %r" % res[::2])
    # a client that writes its whole pipeline before reading (redis-py does): 1,500 GETSETs of
    # 20 KB, more than the proxy reads ahead and more replies than the socket buffers hold
    big = b"x" * 20000
    for want in ([None] * 1500, [big] * 1500):  # the second time, 30 MB of replies too
        pipe = p.pipeline(transaction=False)
        for i in range(1500):
            pipe.getset("%sbig%d" % (prefix, i), big)
        if pipe.execute() != want:
            bad += 1
            print("a 30 MB pipeline written before any reply was read: wrong replies")
    # 200 connections at once, each writing and reading its own key
    errors = []
    barrier = threading.Barrier(200)

    def one(i):
        try:
            c = redis.Redis(port=port, socket_timeout=60)
            c.ping()
            barrier.wait(timeout=60)
            c.set("%sc%d" % (prefix, i), i)
            if c.get("%sc%d" % (prefix, i)) != b"%d" % i:
                errors.append("connection %d read a wrong value" % i)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("connection %d: %r" % (i, e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        bad += 1
        print("200 connections: %d failed: %s" % (len(errors), errors[:5]))
    # clients that send a pipeline and leave without reading
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nx\r\n" %
                           (len(prefix) + 4, (prefix + "gone").encode()) for _ in range(300)))
        s.close()
    deadline = time.time() + 60
    while clients(p) > before and time.time() < deadline:
        time.sleep(0.2)
    if clients(p) > before:
        bad += 1
        print("connections left behind: %d > %d" % (clients(p), before))
    if not p.ping():
        bad += 1
    print("load: pipeline, 200 connections, 20 clients gone mid-pipeline: %s" %
          ("ok" if bad == 0 else "FAILED"))
    return bad


def limits(port):
    bad = 0
    p = redis.Redis(port=port, socket_timeout=60)
    for what, args in (("a 70,000-byte key", ["SET", "k" * 70000, "v"]),
                       ("a 2 MiB value", ["SET", "big", "x" * (2 << 20)]),
                       ("a 70,000-byte hash key", ["HSET", "h" * 70000, "f", "v"]),
                       ("MGET with a 70,000-byte key", ["MGET", "a", "k" * 70000])):
        got = reply_of(p, args)
        if got[0] != "err" or "too large" not in got[1]:
            bad += 1
            print("%s: expected a 'too large' error, got %r" % (what, got))
        if not p.ping():
            bad += 1
            print("%s: the connection stopped working" % what)
    print("limits: %s" % ("ok" if bad == 0 else "FAILED"))
    return bad


def main():
    mode = sys.argv[1]
    if mode == "compare":
        bad = compare(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "wire":
        bad = wire(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "load":
        bad = load(int(sys.argv[2]))
    else:
        bad = limits(int(sys.argv[2]))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
