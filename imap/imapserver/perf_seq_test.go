package imapserver

import "testing"

// The cursor answers as selected.seqOf does, whatever order and gaps
// the UIDs come in.
func TestSeqCursor(t *testing.T) {
	sel := &selected{uids: []uint32{3, 4, 5, 9, 10, 20}}
	for _, uids := range [][]uint32{
		{3, 4, 5, 9, 10, 20},  // the whole view, in order
		{4, 9, 20},            // a subset
		{1, 3, 6, 9, 21},      // UIDs not in the view
		{20, 3, 10, 10, 4, 5}, // out of order, repeated
		{},
	} {
		cur := seqCursor{sel: sel}
		for _, u := range uids {
			if got, want := cur.seqOf(u), sel.seqOf(u); got != want {
				t.Errorf("%v: seqOf(%d) = %d, want %d", uids, u, got, want)
			}
		}
	}
}
