#!/usr/bin/env python3
"""bench/simulate.py -- how zmr's map phase would scale with more mappers
than this machine has cores.

A discrete-event model of what the ventilator and the mappers do with the
chunks of one input:

  * the input is cut into chunks of --chunk bytes (the last one shorter);
  * the ventilator issues a chunk while fewer than two per mapper wait
    (issued, not yet taken: its credit), in order, and its PUSH socket
    hands them round-robin to the mappers' queues;
  * a mapper takes the chunk at the head of its own queue when it is free,
    and maps it in a time proportional to its size (--map-s-per-mb);
  * the job ends when the last chunk is mapped, plus --fixed-s (processes
    starting, the reducers' last batches, the sink's tail).

Each mapper is assumed to have a core of its own, and the reducers and the
sink cores beside them: the model is of map work that dominates, as the
bench's --map-cost makes it. It leaves out what the bench's machine adds
(two cores shared by every process), so on this machine its 2-mapper
figure is an upper bound; the bench prints both side by side.

The per-MB map time is not guessed: the bench passes the one it measured
with one mapper in the same run.

    simulate.py --bytes N --chunk C --map-s-per-mb A [--fixed-s F]
                [--mappers 1,2,4,8,16] [--markdown]
"""
import argparse
import heapq
import sys


def simulate(nbytes, chunk, map_s_per_mb, mappers, fixed_s=0.0, credit=2):
    """Returns (seconds, chunks, busiest mapper's share of the chunks)."""
    sizes = [chunk] * (nbytes // chunk)
    if nbytes % chunk:
        sizes.append(nbytes % chunk)
    queues = [[] for _ in range(mappers)]
    busy_until = [0.0] * mappers
    mapped = [0] * mappers
    next_chunk = 0
    rr = 0
    waiting = 0
    now = 0.0
    events = []             # (time a mapper becomes free, mapper)
    end = 0.0

    def issue():
        nonlocal next_chunk, rr, waiting
        while next_chunk < len(sizes) and waiting < credit * mappers:
            queues[rr].append(sizes[next_chunk])
            next_chunk += 1
            rr = (rr + 1) % mappers
            waiting += 1

    def take(m):
        nonlocal waiting, end
        if busy_until[m] <= now and queues[m]:
            size = queues[m].pop(0)
            waiting -= 1
            busy_until[m] = now + size / 1e6 * map_s_per_mb
            mapped[m] += 1
            end = max(end, busy_until[m])
            heapq.heappush(events, (busy_until[m], m))

    issue()
    for m in range(mappers):
        take(m)
    issue()
    while events:
        now, m = heapq.heappop(events)
        take(m)
        issue()
        for other in range(mappers):
            take(other)
    return end + fixed_s, len(sizes), max(mapped) / max(1, len(sizes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bytes", type=int, required=True, help="input size")
    ap.add_argument("--chunk", type=int, default=4 << 20, help="chunk size (4 MiB)")
    ap.add_argument("--map-s-per-mb", type=float, required=True,
                    help="one mapper's seconds per MB (10^6 bytes) of input")
    ap.add_argument("--fixed-s", type=float, default=0.0,
                    help="seconds the job takes besides mapping")
    ap.add_argument("--mappers", default="1,2,4,8,16")
    ap.add_argument("--markdown", action="store_true", help="a markdown table")
    args = ap.parse_args()
    try:
        counts = [int(m) for m in args.mappers.split(",")]
    except ValueError:
        ap.error("--mappers wants numbers, comma-separated")
    if (args.bytes <= 0 or args.chunk <= 0 or args.map_s_per_mb <= 0
            or args.fixed_s < 0 or any(m < 1 for m in counts)):
        ap.error("sizes, times and mapper counts must be positive")
    rows = []
    base = None
    for m in counts:
        seconds, chunks, share = simulate(args.bytes, args.chunk, args.map_s_per_mb, m,
                                          args.fixed_s)
        base = base or seconds
        rows.append((m, seconds, args.bytes / 1e6 / seconds, base / seconds, share, chunks))
    if args.markdown:
        print("| mappers (a core each) | time (s) | MB/s | speed-up | busiest mapper's chunks |")
        print("|---:|---:|---:|---:|---:|")
        for m, s, mbs, up, share, chunks in rows:
            print(f"| {m} | {s:.2f} | {mbs:.1f} | {up:.2f} | {share * 100:.0f}% of {chunks} |")
    else:
        for m, s, mbs, up, share, chunks in rows:
            print(f"mappers {m:3d}  {s:8.2f} s  {mbs:8.1f} MB/s  speed-up {up:5.2f}  "
                  f"busiest mapper {share * 100:3.0f}% of {chunks} chunks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
