package maildir

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"
)

// FuzzIndexLog parses arbitrary index text: nothing panics, the valid
// prefix is whole lines, every record parsed is written back to the same
// payload (for the kinds that round-trip), and the fast path for message
// records agrees with the general parser on every A or B line.
func FuzzIndexLog(f *testing.F) {
	for _, r := range []*record{
		{kind: 'H', validity: 7, uidNext: 9, modSeq: 3, guid: "0123abcd", expired: 0},
		{kind: 'A', uid: 1, modSeq: 2, date: 1700000000000000000, size: 120, base: "1700.M1P2Q3.host,S=100,W=120", flags: []string{`\Seen`, "$Label1"}},
		{kind: 'A', uid: 2, modSeq: 2, date: -5, size: 1, raw: true, loc: 99 << 24, base: `odd "name"\`},
		{kind: 'C', uid: 2, loc: 12345},
		{kind: 'F', modSeq: 4, uid: 1, flags: []string{`\Deleted`}},
		{kind: 'X', modSeq: 5, gone: []goneRec{{1, "b"}}},
		{kind: 'U', uidNext: 10, modSeq: 6},
		{kind: 'S', date: 1, size: 2},
	} {
		rec := appendRecord(nil, r)
		f.Add(rec[9:]) // the payload: the checksums are added below
	}
	f.Fuzz(func(t *testing.T, payloads []byte) {
		if len(payloads) > 1<<16 {
			return
		}
		// Each line of the input with its checksum, so that the records
		// themselves are what is explored (and a last line unterminated).
		var data []byte
		for _, line := range bytes.SplitAfter(payloads, []byte("\n")) {
			body := bytes.TrimSuffix(line, []byte("\n"))
			data = fmt.Appendf(data, "%08x ", crc32.Checksum(body, crcTable))
			data = append(data, line...)
		}
		var p logParser
		good := p.parse(data, func(r *record) {
			// Flags are checked when set (validFlag), not when read: a
			// record with others does not round-trip, but is kept.
			valid := true
			for _, fl := range r.flags {
				valid = valid && validFlag(fl)
			}
			if valid && (r.kind == 'A' || r.kind == 'C' || r.kind == 'U' || r.kind == 'S') {
				var q logParser
				again := appendRecord(nil, r)
				n := 0
				q.parse(again, func(r2 *record) {
					n++
					if fmt.Sprint(*r2) != fmt.Sprint(*r) {
						t.Fatalf("record %+v written back reads %+v", *r, *r2)
					}
				})
				if n != 1 {
					t.Fatalf("record %+v written back as %q does not parse", *r, again)
				}
			}
		})
		if good > len(data) || good > 0 && data[good-1] != '\n' {
			t.Fatalf("valid prefix %d of %q", good, data)
		}
		// The fast path against the general parser, line by line.
		for off := 0; off < good; {
			end := off
			for data[end] != '\n' {
				end++
			}
			line := string(data[off+9 : end])
			if len(line) > 2 && (line[0] == 'A' || line[0] == 'B') && line[1] == ' ' {
				var fast logParser
				fast.text, fast.flags = line, map[string][]string{}
				if fast.messageRecord(line) {
					var g logParser
					g.text, g.flags = line, map[string][]string{}
					if !g.generalRecord(0, len(line)) || fmt.Sprint(g.rec) != fmt.Sprint(fast.rec) {
						t.Fatalf("%q: fast %+v, general %+v", line, fast.rec, g.rec)
					}
				}
			}
			off = end + 1
		}
	})
}
