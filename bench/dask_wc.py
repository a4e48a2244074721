#!/usr/bin/env python3
"""Word count with dask.bag, the Dask baseline of bench/run.sh.

    python3 dask_wc.py [--workers N] [--chunk-mb M] FILE OUT

A small, idiomatic dask.bag word count on the multiprocessing scheduler with
N worker processes (default 2): the file is cut into byte ranges at
whitespace, each range is read and split into words (bytes.split() with no
argument splits on exactly the six ASCII whitespace bytes, as zmr does), and
bag.frequencies() counts them.  OUT gets 'word<TAB>count' lines, count
descending, ties in bytewise order.  On stderr, one line
'dask: peak_rss_kb=K' — the launcher's peak RSS plus each worker
process's peak, as the workers report it at the end of their tasks.
"""
import argparse
import concurrent.futures
import os
import resource
import sys
import time

import dask
import dask.bag as db

WS = b" \t\n\v\f\r"


def cut_points(path, size, chunk):
    """Offsets that split the file into ~chunk-byte ranges at whitespace."""
    cuts = [0]
    with open(path, "rb") as f:
        pos = chunk
        while pos < size:
            f.seek(pos)
            while True:
                block = f.read(65536)
                if not block:
                    pos = size
                    break
                i = next((k for k, b in enumerate(block) if b in WS), -1)
                if i >= 0:
                    pos += i
                    break
                pos += len(block)
            if pos >= size:
                break
            cuts.append(pos)
            pos += chunk
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


def read_words(rng, path):
    a, b = rng
    with open(path, "rb") as f:
        f.seek(a)
        return f.read(b - a).split()


def rss_of_worker(_):
    time.sleep(0.05)  # let every worker take some of these tasks
    return (os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-mb", type=float, default=8.0)
    ap.add_argument("file")
    ap.add_argument("out")
    a = ap.parse_args()
    size = os.path.getsize(a.file)
    ranges = cut_points(a.file, size, max(1, int(a.chunk_mb * 1e6)))
    bag = db.from_sequence(ranges, npartitions=max(1, len(ranges)))
    freq = bag.map(read_words, a.file).flatten().frequencies()
    # afterwards, a few cheap tasks on the same worker processes report
    # each worker's peak RSS
    rss = db.from_sequence(range(4 * a.workers), npartitions=4 * a.workers).map(rss_of_worker)
    with concurrent.futures.ProcessPoolExecutor(max_workers=a.workers) as pool:
        with dask.config.set(scheduler="processes", num_workers=a.workers, pool=pool):
            counts = freq.compute()
            worker_rss = rss.compute()
    counts.sort(key=lambda wc: (-wc[1], wc[0]))
    with open(a.out, "wb") as out:
        out.writelines(w + b"\t" + str(c).encode() + b"\n" for w, c in counts)
    peaks = {}
    for pid, kb in worker_rss:
        peaks[pid] = max(kb, peaks.get(pid, 0))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("dask: peak_rss_kb=%d workers_seen=%d" % (own + sum(peaks.values()), len(peaks)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
