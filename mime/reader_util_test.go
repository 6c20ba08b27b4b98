package mime

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"
)

func readerB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkIndex checks Index against Reader on one message: the same parts
// in the same order with the same offsets, every offset within bounds and
// within its parent, and the body bytes at the offsets equal to what
// Reader.Raw returns.
func checkIndex(t testing.TB, data []byte, lim Limits) {
	t.Helper()
	size := int64(len(data))
	root, ierr := Index(bytes.NewReader(data), size, lim)
	var rparts []*Part
	var raws [][]byte
	r := NewReader(bytes.NewReader(data), lim)
	var rerr error
	for {
		p, err := r.NextPart()
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
		raw, err := io.ReadAll(r.Raw())
		if err != nil {
			t.Fatalf("Raw: %v", err)
		}
		rparts = append(rparts, p)
		raws = append(raws, raw)
	}
	if (ierr == nil) != (rerr == nil) {
		t.Fatalf("Index error %v, Reader error %v", ierr, rerr)
	}
	if root == nil {
		if len(rparts) != 0 {
			t.Fatalf("Index found no root, Reader %d parts", len(rparts))
		}
		return
	}
	var iparts []*Part
	root.Walk(func(p *Part) bool { iparts = append(iparts, p); return true })
	if len(iparts) != len(rparts) {
		t.Fatalf("Index has %d parts, Reader %d", len(iparts), len(rparts))
	}
	var check func(p *Part, lo, hi int64)
	check = func(p *Part, lo, hi int64) {
		if !(lo <= p.HeaderOffset && p.HeaderOffset <= p.BodyOffset && p.BodyOffset <= p.EndOffset && p.EndOffset <= hi) {
			t.Errorf("part %s offsets %d/%d/%d outside [%d,%d]", p.ContentType(), p.HeaderOffset, p.BodyOffset, p.EndOffset, lo, hi)
		}
		if p.Message != nil {
			check(p.Message, p.BodyOffset, p.EndOffset)
		}
		for _, c := range p.Children {
			check(c, p.BodyOffset, p.EndOffset)
		}
	}
	if ierr == nil {
		check(root, 0, size)
	}
	for i, ip := range iparts {
		rp := rparts[i]
		if ip.IsContainer() != rp.IsContainer() || ip.ContentType() != rp.ContentType() || ip.HeaderOffset != rp.HeaderOffset || ip.BodyOffset != rp.BodyOffset || ip.Depth != rp.Depth {
			t.Errorf("part %d: Index %s %d/%d depth %d, Reader %s %d/%d depth %d", i,
				ip.ContentType(), ip.HeaderOffset, ip.BodyOffset, ip.Depth, rp.ContentType(), rp.HeaderOffset, rp.BodyOffset, rp.Depth)
		}
		if ierr == nil && ip.EndOffset != rp.EndOffset {
			t.Errorf("part %d (%s): Index ends at %d, Reader at %d", i, ip.ContentType(), ip.EndOffset, rp.EndOffset)
		}
		if ierr == nil && !ip.IsContainer() && !bytes.Equal(data[ip.BodyOffset:ip.EndOffset], raws[i]) {
			t.Errorf("part %d (%s): body at offsets differs from Reader.Raw", i, ip.ContentType())
		}
		if ierr == nil {
			b := data[ip.BodyOffset:ip.EndOffset]
			lines := int64(bytes.Count(b, []byte{'\n'}))
			if len(b) > 0 && b[len(b)-1] != '\n' {
				lines++
			}
			if ip.BodyLines != lines {
				t.Errorf("part %d (%s): BodyLines %d, the body has %d", i, ip.ContentType(), ip.BodyLines, lines)
			}
		}
	}
}
