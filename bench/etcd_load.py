#!/usr/bin/python3
"""etcd_load.py: puts into etcd over its gRPC API, printing geokv-bench's result lines.

    etcd_load.py --endpoint HOST:PORT --duration S [--rate N] [--inflight N]
                 [--value-size B] [--count KEYS] [--seed N]

The peer load generator of bench/run_replication_bench.sh: the same knobs and the same
output ("ops: N", "ops_per_sec: X", "lat_p99_us: N", ...) as `geokv-bench --op set`, so the
two are measured alike. Requests are etcdserverpb.KV/Put calls with the PutRequest encoded
here (field 1 key, field 2 value), sent through python3-grpcio's C core with up to
--inflight calls outstanding on one HTTP/2 connection. With --rate the load is open loop and
latency counts from each request's due time, as geokv-bench does; without it, closed loop.
The client's own CPU use is printed (client_cpu_pct) so a saturated client can be seen.
"""
import argparse
import random
import resource
import threading
import time

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def put_request(key, value):
    return b"\x0a" + varint(len(key)) + key + b"\x12" + varint(len(value)) + value


def percentile(sorted_us, p):
    if not sorted_us:
        return 0
    return sorted_us[min(len(sorted_us) - 1, int(len(sorted_us) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--inflight", type=int, default=32)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    channel = grpc.insecure_channel(a.endpoint)
    grpc.channel_ready_future(channel).result(timeout=10)
    put = channel.unary_unary("/etcdserverpb.KV/Put")
    rng = random.Random(a.seed)
    value = b"v" * a.value_size
    slots = threading.Semaphore(a.inflight)
    lock = threading.Lock()
    lat_us, errors = [], [0]
    pending = [0]
    idle = threading.Condition(lock)

    def done(fut, t0):
        us = int((time.monotonic() - t0) * 1e6)
        with lock:
            if fut.exception() is None:
                lat_us.append(us)
            else:
                errors[0] += 1
            pending[0] -= 1
            idle.notify_all()
        slots.release()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    end = start + a.duration
    n = 0
    while True:
        due = start + n / a.rate if a.rate else time.monotonic()
        if due >= end:
            break
        if a.rate:
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        slots.acquire()
        if not a.rate:  # closed loop: latency counts from the send, as in geokv-bench
            due = time.monotonic()
        key = b"k%016d" % rng.randrange(a.count)
        with lock:
            pending[0] += 1
        fut = put.future(put_request(key, value), timeout=10)
        fut.add_done_callback(lambda f, t0=due: done(f, t0))
        n += 1
    with lock:
        idle.wait_for(lambda: pending[0] == 0, timeout=30)
        lat_us = sorted(lat_us)
    elapsed = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print("ops: %d" % len(lat_us))
    print("errors: %d" % errors[0])
    print("ops_per_sec: %.0f" % (len(lat_us) / elapsed))
    print("lat_p50_us: %d" % percentile(lat_us, 0.50))
    print("lat_p99_us: %d" % percentile(lat_us, 0.99))
    print("lat_p999_us: %d" % percentile(lat_us, 0.999))
    print("lat_max_us: %d" % (lat_us[-1] if lat_us else 0))
    print("client_cpu_pct: %.0f" % (100 * cpu / elapsed))


if __name__ == "__main__":
    main()
