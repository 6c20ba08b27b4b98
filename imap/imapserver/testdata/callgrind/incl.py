#!/usr/bin/env python3
"""incl.py FUNC FILE...: the inclusive Ir of the function named FUNC (a
substring of the symbol, e.g. 'imapserver.(*session).command') in each
callgrind dump: its own cost plus that of the calls it makes."""
import re, sys

def incl(path, want):
    names, fn, total, call = {}, None, 0, False
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?fn)=(?:\((\d+)\))?\s*(.*)$", line.rstrip("\n"))
        if m:
            k, idx, name = m.groups()
            if idx and name:
                names[idx] = name
            if k == "fn":
                fn = names.get(idx, name) if idx else name
            continue
        if line.startswith("calls="):
            call = True
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if fn is not None and want in fn and not fn.endswith("'2") and len(parts) >= 2:
                total += int(parts[1])
            call = False
    return total

if __name__ == "__main__":
    for f in sys.argv[2:]:
        print(f, incl(f, sys.argv[1]))
