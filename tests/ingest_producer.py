#!/usr/bin/env python3
"""A producer for zmr's acked ingest, written from docs/protocol.md ("Ingest")
alone: sends the lines of a file in numbered batches to a ventilator's
--ingest ROUTER, each until it is acknowledged, and writes every batch it got
an INGESTED for to --acked (the reference of what must be counted).

--resend-every N sends every Nth batch twice more (as after a lost answer),
  once at once and once after the next batch's answer (an older seq): the
  ventilator must count it once.
--drop-ack-every N ignores the answer of every Nth batch and sends it again.
--retry-ms: how long to wait for an answer before sending again.
--give-up-s: fail (exit 1) if one batch stays unanswered this long.
Exit 0 when every batch is acknowledged, 1 otherwise."""
import argparse
import sys
import time

import msgpack
import zmq

SIG, VER, INGEST, INGESTED, REFUSED = 0x5A4D, 2, 29, 30, 31


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("input")
    ap.add_argument("--producer", default="producer-1")
    ap.add_argument("--lines", type=int, default=50, help="lines per batch")
    ap.add_argument("--first-seq", type=int, default=1)
    ap.add_argument("--acked", required=True, help="file of the text acknowledged")
    ap.add_argument("--resend-every", type=int, default=0)
    ap.add_argument("--drop-ack-every", type=int, default=0)
    ap.add_argument("--retry-ms", type=int, default=500)
    ap.add_argument("--give-up-s", type=float, default=120)
    ap.add_argument("--pause-ms", type=int, default=0, help="between batches")
    args = ap.parse_args()

    with open(args.input, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    batches = [b"".join(lines[i:i + args.lines]) for i in range(0, len(lines), args.lines)]

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    acked_out = open(args.acked, "ab")

    def frame(seq, text):
        return msgpack.packb([SIG, VER, INGEST, args.producer, seq, text], use_bin_type=True)

    def wait_answer(seq, text, drop_first=False):
        """Sends (seq, text) until INGESTED for seq comes. Returns True."""
        deadline = time.monotonic() + args.give_up_s
        sock.send(frame(seq, text))
        dropped = not drop_first
        while time.monotonic() < deadline:
            if not sock.poll(args.retry_ms):
                sock.send(frame(seq, text))     # no answer in time: again
                continue
            msg = msgpack.unpackb(sock.recv(), raw=False)
            if len(msg) < 5 or msg[0] != SIG or msg[1] != VER or msg[3] != args.producer:
                print("ingest_producer: unexpected answer %r" % (msg,), file=sys.stderr)
                return False
            kind, answered = msg[2], msg[4]
            if kind == REFUSED and answered == seq:
                print("ingest_producer: batch %d refused: %s" % (seq, msg[5]), file=sys.stderr)
                return False
            if kind != INGESTED or answered != seq:
                continue                        # an answer to an earlier send
            if not dropped:
                dropped = True                  # as if it were lost
                sock.send(frame(seq, text))
                continue
            return True
        print("ingest_producer: batch %d unanswered for %.0f s" % (seq, args.give_up_s),
              file=sys.stderr)
        return False

    previous = None
    for i, text in enumerate(batches):
        seq = args.first_seq + i
        drop = args.drop_ack_every and (i + 1) % args.drop_ack_every == 0
        if not wait_answer(seq, text, drop_first=drop):
            return 1
        acked_out.write(text)
        acked_out.flush()
        if previous is not None:
            # an old batch again, after a later one was taken: a duplicate
            if not wait_answer(*previous):
                return 1
            previous = None
        if args.resend_every and (i + 1) % args.resend_every == 0:
            if not wait_answer(seq, text):
                return 1
            previous = (seq, text)
        if args.pause_ms:
            time.sleep(args.pause_ms / 1000.0)
    acked_out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
