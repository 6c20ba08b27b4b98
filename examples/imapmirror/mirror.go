package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
)

// stats reports what one mirror run did.
type stats struct {
	Method     imapclient.ResyncMethod
	StartOver  bool // UIDVALIDITY changed: everything was fetched again
	Downloaded int  // messages fetched and written
	Renamed    int  // flag changes applied
	Removed    int  // messages gone from the server, deleted here
	Pruned     int  // stray files removed (interrupted runs)
}

func (s stats) String() string {
	return fmt.Sprintf("method %s, start over %v, downloaded %d, flags changed %d, removed %d, stray files %d",
		s.Method, s.StartOver, s.Downloaded, s.Renamed, s.Removed, s.Pruned)
}

// mirror brings the Maildir at dir up to date with mailbox: it resyncs
// from the state saved by the previous run (with QRESYNC when the server
// offers it, so only changes cross the wire), deletes the files of
// vanished messages, renames files whose flags changed, downloads new
// messages and saves the new state.
func mirror(ctx context.Context, c *imapclient.Client, mailbox, dir string, log *slog.Logger) (stats, error) {
	var s stats
	md, err := openMaildir(dir)
	if err != nil {
		return s, err
	}
	st, err := loadState(dir)
	if err != nil {
		return s, err
	}
	if st.Mailbox != "" && st.Mailbox != mailbox {
		return s, fmt.Errorf("imapmirror: %s mirrors mailbox %q, not %q", dir, st.Mailbox, mailbox)
	}
	st.Mailbox = mailbox
	old := imapclient.ResyncState{UIDValidity: st.UIDValidity, HighestModSeq: st.HighestModSeq, KnownUIDs: st.knownUIDs()}
	res, err := c.Resync(ctx, mailbox, old, "")
	if err != nil {
		return s, err
	}
	s.Method = res.Method
	if res.UIDValidityChanged {
		// RFC 9051 §2.3.1.1: the old UIDs name nothing any more.
		log.Info("UIDVALIDITY changed: starting over", "old", st.UIDValidity, "new", res.State.UIDValidity)
		s.StartOver = true
		st.Files = map[uint32]string{}
	}
	for uid := range res.Vanished.Nums(0) {
		name, ok := st.Files[uid]
		if !ok {
			continue
		}
		if err := md.remove(name); err != nil {
			return s, err
		}
		delete(st.Files, uid)
		s.Removed++
	}
	for _, m := range res.Changed {
		name, ok := st.Files[m.UID]
		if !ok || !m.HasFlags {
			continue
		}
		changed, err := md.setFlags(name, m.Flags)
		if err != nil {
			return s, fmt.Errorf("imapmirror: UID %d: %w", m.UID, err)
		}
		if changed {
			s.Renamed++
		}
	}
	// The UIDs in st.Files belong to this UIDVALIDITY from here on, even
	// if the download below stops part-way; HIGHESTMODSEQ moves only
	// when everything is in.
	st.UIDValidity = res.State.UIDValidity
	if len(res.New) > 0 {
		var set imap.NumSet
		for _, m := range res.New {
			set.AddNum(m.UID)
		}
		n, err := download(ctx, c, md, st, set.Compact())
		s.Downloaded = n
		if err != nil {
			// Save what was written, so the next run does not fetch
			// it again.
			st.save(dir)
			return s, err
		}
	}
	st.HighestModSeq = res.State.HighestModSeq
	if err := st.save(dir); err != nil {
		return s, err
	}
	keep := make(map[string]bool, len(st.Files))
	for _, name := range st.Files {
		keep[name] = true
	}
	s.Pruned, err = md.prune(keep)
	return s, err
}

// download fetches the messages of uids with their flags, streaming each
// body straight from the connection into its Maildir file.
func download(ctx context.Context, c *imapclient.Client, md *maildir, st *state, uids imap.NumSet) (int, error) {
	n := 0
	fc := c.UIDFetch(ctx, uids, []imap.FetchAtt{
		{Item: imap.FetchUID}, {Item: imap.FetchFlags},
		{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}},
	}, nil)
	for m := fc.Next(); m != nil; m = fc.Next() {
		var uid uint32
		var flags []imap.Flag
		for it := m.Next(); it != nil; it = m.Next() {
			switch it := it.(type) {
			case imapclient.FetchItemUID:
				uid = it.UID
			case imapclient.FetchItemFlags:
				flags = it.Flags
			case imapclient.FetchItemBodySection:
				if uid == 0 || it.Nil {
					// RFC 9051 §6.4.9 puts UID in every UID FETCH
					// response, but not necessarily first.
					return n, fc.Close()
				}
				name, err := md.write(it.Literal, flags)
				if err != nil {
					fc.Close()
					return n, err
				}
				if _, ok := st.Files[uid]; ok {
					md.remove(st.Files[uid])
				}
				st.Files[uid] = name
				n++
			}
		}
		// FLAGS may come after the body: fix the name if so.
		if name, ok := st.Files[uid]; ok && flags != nil {
			if _, err := md.setFlags(name, flags); err != nil {
				fc.Close()
				return n, err
			}
		}
	}
	return n, fc.Close()
}
