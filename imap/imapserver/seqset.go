package imapserver

import (
	"sort"

	"github.com/posthorn/posthorn/imap"
)

// resolve turns a sequence set (uid false) or UID set (uid true) into
// the ascending UIDs of the messages in the session's view it names.
// A sequence number beyond the mailbox is a BAD (RFC 9051 §9 seq-number).
func (s *session) resolve(set imap.NumSet, uid bool) ([]uint32, error) {
	sel := s.sel
	if set.SearchRes {
		// RFC 5182 §2.1: "$" is the saved result, restricted to the
		// messages still in the view.
		out := make([]uint32, 0, len(sel.searchRes))
		for _, u := range sel.searchRes {
			if sel.seqOf(u) != 0 {
				out = append(out, u)
			}
		}
		return out, nil
	}
	n := uint32(len(sel.uids))
	if !uid {
		// Sequence numbers are the client's: messages it was not told
		// of yet (sendUpdates before FETCH and STORE) are not in "*".
		n = uint32(min(sel.announced, len(sel.uids)))
		r := set.Resolve(n)
		var out []uint32
		for _, rg := range r.Ranges {
			if rg.Start == 0 || rg.Stop > n {
				return nil, bad("Invalid sequence number")
			}
			out = append(out, sel.uids[rg.Start-1:rg.Stop]...)
		}
		return out, nil
	}
	var last uint32
	if n > 0 {
		last = sel.uids[n-1]
	}
	r := set.Resolve(last)
	var out []uint32
	for _, rg := range r.Ranges {
		i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= rg.Start })
		for ; i < len(sel.uids) && sel.uids[i] <= rg.Stop; i++ {
			out = append(out, sel.uids[i])
		}
	}
	return out, nil
}
