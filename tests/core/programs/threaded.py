"""A threaded workload for the real-program tests: worker threads take jobs
from a queue, build strings, lists and dicts, and hand their results to other
threads (so objects allocated in one thread are freed in another).  Run with
PYTHONMALLOC=malloc every object goes through the C allocator.  The printed
summary is deterministic."""
import hashlib
import queue
import sys
import threading


def work(job):
    n, seed = job
    parts = [("%d:%d" % (seed, i)) * (1 + (seed + i) % 17) for i in range(n)]
    d = {p[:20] + str(i): [i] * (i % 13) for i, p in enumerate(parts)}
    s = "|".join(sorted(d))
    return seed, hashlib.sha1(s.encode()).hexdigest(), len(s), sum(len(v) for v in d.values())


def main(n_threads=8, n_jobs=1500):
    jobs = queue.Queue()
    results = queue.Queue()
    handoff = queue.Queue()

    def producer_consumer():
        while True:
            job = jobs.get()
            if job is None:
                break
            r = work(job)
            handoff.put([r, bytearray(1000 + job[1] % 5000), {"k": list(range(job[1] % 300))}])

    def collector():
        while True:
            item = handoff.get()
            if item is None:
                break
            results.put(item[0])  # item's big parts are freed here, in another thread

    workers = [threading.Thread(target=producer_consumer) for _ in range(n_threads)]
    coll = [threading.Thread(target=collector) for _ in range(2)]
    for t in workers + coll:
        t.start()
    for i in range(n_jobs):
        jobs.put((20 + i % 80, i))
    for _ in workers:
        jobs.put(None)
    for t in workers:
        t.join()
    for _ in coll:
        handoff.put(None)
    for t in coll:
        t.join()
    out = sorted(results.get() for _ in range(n_jobs))
    digest = hashlib.sha256("".join("%d%s%d%d" % r for r in out).encode()).hexdigest()
    print("jobs=%d total_len=%d total_items=%d digest=%s" % (
        len(out), sum(r[2] for r in out), sum(r[3] for r in out), digest))
    return 0


if __name__ == "__main__":
    sys.exit(main(*[int(a) for a in sys.argv[1:]]))
