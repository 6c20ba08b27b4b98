package imapclient

import (
	"context"

	"github.com/posthorn/posthorn/imap"
)

// ResyncState is what a client remembers of a mailbox between sessions.
type ResyncState struct {
	UIDValidity   uint32
	HighestModSeq uint64 // 0 when unknown or not kept by the server
	KnownUIDs     imap.UIDSet
}

// ResyncMethod says how Resync brought the state up to date.
type ResyncMethod string

// Resync methods, best first.
const (
	ResyncQResync   ResyncMethod = "QRESYNC"   // RFC 7162 §3.2.5
	ResyncCondStore ResyncMethod = "CONDSTORE" // RFC 7162 §3.1
	ResyncFull      ResyncMethod = "FULL"      // UID FETCH 1:* (UID FLAGS)
)

// ResyncResult reports what changed since the state given to Resync.
type ResyncResult struct {
	Method ResyncMethod
	// UIDValidityChanged means the old UIDs mean nothing any more
	// (RFC 9051 §2.3.1.1): drop everything; New then holds every message.
	UIDValidityChanged bool
	// New holds messages not in KnownUIDs (UID, FLAGS and, when the server
	// keeps them, MODSEQ).
	New []*FetchMessageBuffer
	// Changed holds known messages whose flags changed (with FULL: every
	// known message that still exists).
	Changed []*FetchMessageBuffer
	// Vanished holds known UIDs that no longer exist.
	Vanished imap.UIDSet
	// State is the new state to remember.
	State ResyncState
}

// Resync selects mailbox and brings a remembered state up to date: with
// QRESYNC when the server offers it (enabling it), with CONDSTORE next,
// and with a full UID FETCH of flags otherwise. force, when non-empty,
// picks a method (falling back to FULL when the server lacks it).
func (c *Client) Resync(ctx context.Context, mailbox string, old ResyncState, force ResyncMethod) (*ResyncResult, error) {
	method := force
	if method == "" {
		method = ResyncQResync
	}
	if method == ResyncQResync && !c.Has(ctx, "QRESYNC") {
		method = ResyncCondStore
	}
	if method == ResyncCondStore && !c.Has(ctx, "CONDSTORE") {
		method = ResyncFull
	}
	if old.UIDValidity == 0 || old.HighestModSeq == 0 {
		method = ResyncFull // nothing to compare mod-sequences with
	}
	res := &ResyncResult{Method: method}
	opts := &SelectOptions{}
	switch method {
	case ResyncQResync:
		if !c.Enabled("QRESYNC") {
			if _, err := c.Enable(ctx, "QRESYNC"); err != nil {
				return nil, err
			}
		}
		opts.QResync = &QResyncParams{UIDValidity: old.UIDValidity, ModSeq: old.HighestModSeq}
	default:
		// Learn HIGHESTMODSEQ for the next time (RFC 7162 §3.1.8).
		opts.CondStore = c.Has(ctx, "CONDSTORE")
	}
	sel, err := c.Select(ctx, mailbox, opts)
	if err != nil {
		return nil, err
	}
	known := old.KnownUIDs.NumSet
	if old.UIDValidity != 0 && sel.UIDValidity != old.UIDValidity {
		res.UIDValidityChanged = true
		known = imap.NumSet{}
	}
	if res.UIDValidityChanged {
		method = ResyncFull
		res.Method = ResyncFull
	}
	max := sel.UIDNext
	if max == 0 {
		max = ^uint32(0)
	}
	isKnown := func(uid uint32) bool { return known.Contains(uid, max) }
	all := imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}
	atts := []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}}
	if !sel.NoModSeq && sel.HighestModSeq != 0 {
		atts = append(atts, imap.FetchAtt{Item: imap.FetchModSeq})
	}
	var msgs []*FetchMessageBuffer
	var present []uint32
	presentSet := map[uint32]bool{}
	switch method {
	case ResyncQResync:
		msgs = sel.Changed
		res.Vanished = sel.Vanished
	case ResyncCondStore:
		msgs, err = c.UIDFetch(ctx, all, atts, &FetchOptions{ChangedSince: old.HighestModSeq}).Collect()
		if err != nil {
			return nil, err
		}
		if !known.IsZero() {
			// Which known UIDs still exist?
			sd, err := c.UIDSearch(ctx, &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchUID, Set: known}}})
			if err != nil {
				return nil, err
			}
			present = sd.Nums
			res.Vanished = missing(known, max, present)
		}
	default:
		msgs, err = c.UIDFetch(ctx, all, atts, nil).Collect()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			present = append(present, m.UID)
			presentSet[m.UID] = true
		}
		if !known.IsZero() {
			res.Vanished = missing(known, max, present)
		}
	}
	for _, m := range msgs {
		if m.UID == 0 {
			continue
		}
		if isKnown(m.UID) {
			res.Changed = append(res.Changed, m)
		} else {
			res.New = append(res.New, m)
		}
	}
	// New state: known − vanished + new.
	st := ResyncState{UIDValidity: sel.UIDValidity, HighestModSeq: sel.HighestModSeq}
	if mb := c.Mailbox(); mb != nil && mb.HighestModSeq > st.HighestModSeq {
		st.HighestModSeq = mb.HighestModSeq
	}
	for _, m := range msgs {
		if m.ModSeq > st.HighestModSeq {
			st.HighestModSeq = m.ModSeq
		}
	}
	var keep []uint32
	for uid := range known.Resolve(max).Nums(max) {
		if uid >= max {
			break
		}
		if !res.Vanished.Contains(uid, max) && (method != ResyncFull || presentSet[uid]) {
			keep = append(keep, uid)
		}
	}
	for _, m := range res.New {
		keep = append(keep, m.UID)
	}
	st.KnownUIDs = imap.UIDSet{NumSet: imap.NumSetOf(keep...).Compact()}
	res.State = st
	return res, nil
}

// missing returns the numbers of set (up to max) absent from present.
func missing(set imap.NumSet, max uint32, present []uint32) imap.UIDSet {
	have := make(map[uint32]bool, len(present))
	for _, n := range present {
		have[n] = true
	}
	var out []uint32
	for n := range set.Resolve(max).Nums(max) {
		if n >= max {
			break
		}
		if !have[n] {
			out = append(out, n)
		}
	}
	return imap.UIDSet{NumSet: imap.NumSetOf(out...)}
}
