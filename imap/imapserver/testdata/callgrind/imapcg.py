#!/usr/bin/env python3
"""Drive a server running under callgrind with the commands of mailbench
imap-fetch, zeroing the server's counters before each run of a command
and dumping them after it, so that each dump holds the server's own
instructions for one run of one command (see run.sh).

    imapcg.py ADDR PID REPEAT OUTLIST

ADDR is 127.0.0.1:PORT of TestServeMailbenchCorpus (user bench/bench),
PID the valgrind process; OUTLIST receives the op of each dump, in order.
"""
import socket, subprocess, sys, time

OPS = [
    ("select", "SELECT INBOX"),
    ("fetch_flags", "UID FETCH 1:* (UID FLAGS)"),
    ("fetch_envelope", "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"),
    ("fetch_bodystructure", "UID FETCH 1:* (BODYSTRUCTURE)"),
    ("fetch_header_fields", "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From To Subject Date)])"),
    ("fetch_body", "UID FETCH 1:* (BODY.PEEK[])"),
    ("search_subject", 'UID SEARCH SUBJECT "kumquatvex"'),
    ("search_body", 'UID SEARCH BODY "marzipanlode"'),
    ("store_add_seen", "UID STORE 1:* +FLAGS.SILENT (\\Seen)"),
    ("store_del_seen", "UID STORE 1:* -FLAGS.SILENT (\\Seen)"),
]
# Around each STORE, unmeasured, the other one: every run of either
# changes every message, and the mailbox is left as it was.
BEFORE = {"store_del_seen": OPS[8][1]}
AFTER = {"store_add_seen": OPS[9][1]}


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=1800)
        self.n = 0
        self.data = bytearray()
        self.s.recv(4096)  # greeting

    def cmd(self, c):
        self.n += 1
        tag = b"Z%d" % self.n
        self.s.sendall(tag + b" " + c.encode() + b"\r\n")
        # The tag only matters at a line start; the corpus has no line
        # starting with "Z<n> ".
        want = b"\r\n" + tag + b" "
        data = bytearray(b"\r\n")
        pos = 0
        while True:
            i = data.find(want, pos)
            if i >= 0:
                j = data.find(b"\r\n", i + 2)
                if j >= 0:
                    status = bytes(data[i + 2:j])
                    if status.split(b" ")[1] != b"OK":
                        raise RuntimeError(status)
                    return
            pos = max(0, len(data) - 64)
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError
            data += d


def ctl(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL)


def main():
    addr, pid, repeat, outlist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    c = Conn(addr)
    c.cmd("LOGIN bench bench")
    for _ in range(2):  # warm, as perfcheck.sh does (imap-fetch -repeat 2)
        for _, cmd in OPS:
            c.cmd(cmd)
    time.sleep(3)  # let the warm-up's GC and scavenging settle
    with open(outlist, "w") as out:
        for op, cmd in OPS:
            for _ in range(repeat):
                if op in BEFORE:
                    c.cmd(BEFORE[op])
                ctl(pid, "-z")
                c.cmd(cmd)
                ctl(pid, "-d", op)
                out.write(op + "\n")
                out.flush()
                if op in AFTER:
                    c.cmd(AFTER[op])
    c.cmd("LOGOUT")


main()
