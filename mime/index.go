package mime

import (
	"bufio"
	"io"
)

// Index computes the part tree of the message in r (size bytes) with the
// byte offsets of every header and body, for serving IMAP FETCH
// (BODYSTRUCTURE, BODY[section], BINARY[section], partial ranges) without
// re-parsing or holding the message in memory (RFC 9051 §6.4.5, §7.5.2).
//
// It reads the message once, through a bounded buffer; memory use depends
// on the number of parts and the size of their headers, not on the size
// of the bodies. The tree and its Defects are the ones Reader reports.
// Use Part.Lookup to find a section; the root's Header is the message
// header.
//
// On a *LimitError for MaxParts, or a read error, Index returns the tree
// built so far together with the error; parts still open then end where
// the walk stopped.
func Index(r io.ReaderAt, size int64, lim Limits) (*Part, error) {
	bufSize := 64 << 10
	if size < int64(bufSize) {
		bufSize = int(size) + 16
	}
	var w walker
	w.init(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), bufSize), lim, true, true)
	for {
		_, err := w.next()
		if err == io.EOF {
			return w.root, nil
		}
		if err != nil {
			// Parts left open end where the walk stopped.
			for _, c := range w.stack {
				c.part.EndOffset = max(w.off, c.part.BodyOffset)
			}
			if w.cur != nil {
				w.cur.EndOffset = max(w.off, w.cur.BodyOffset)
			}
			return w.root, err
		}
	}
}
