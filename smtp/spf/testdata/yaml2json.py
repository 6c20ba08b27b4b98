#!/usr/bin/env python3
"""Convert the OpenSPF RFC 7208 test suite from YAML to JSON.

The main module takes no YAML dependency, so the suite is committed as JSON
made by this script (Debian's python3-yaml):

    python3 yaml2json.py /work/shared/testdata/spf/rfc7208-tests.yml > rfc7208-tests.json

The output is a list of scenarios, each {"description", "tests", "zones"}:
tests keep their fields with "result" always a list (first preferred);
each zone record is {"type": T, "value": V} where V is a list of strings for
TXT and SPF, [pref, host] for MX, a string otherwise, and a bare TIMEOUT
item is {"type": "TIMEOUT"}. The licence of the suite is
rfc7208-tests.LICENSE beside the output; it travels with it.
"""
import json
import sys

import yaml


def record(item):
    if item == "TIMEOUT":
        return {"type": "TIMEOUT"}
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError("unexpected zone item %r" % (item,))
    (typ, value), = item.items()
    if typ in ("TXT", "SPF"):
        if value == "NONE":
            return {"type": typ, "value": None}
        if isinstance(value, str):
            value = [value]
        value = [str(v) for v in value]
    elif typ == "MX":
        value = [int(value[0]), str(value[1])]
    else:
        value = str(value)
    return {"type": typ, "value": value}


def main():
    out = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            tests = {}
            for name, t in doc["tests"].items():
                t = dict(t)
                r = t["result"]
                t["result"] = r if isinstance(r, list) else [r]
                for k in ("helo", "host", "mailfrom", "explanation"):
                    if k in t and t[k] is not None:
                        t[k] = str(t[k])
                tests[name] = t
            zones = {}
            for name, items in (doc.get("zonedata") or {}).items():
                zones[str(name)] = [record(i) for i in (items or [])]
            out.append({"description": doc["description"], "tests": tests, "zones": zones})
    json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
