package smtpqueue

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/posthorn/posthorn/smtp"
)

// The index is a snapshot of the in-memory index (records, offsets and
// states of all messages) that Close writes when no delivery is running,
// so that the next Open reads one file instead of a message file and a
// state file per message, and decodes no JSON for the common case.
//
// It is trusted only while nothing changed after it was written: Open
// removes it (and syncs the directory) before the queue can change
// anything, and a write of a message or state file after Close removes it
// first. A crash therefore never leaves an index older than the files; the
// next Open then scans the directory as before. Messages in msg/ that the
// index lacks are read from their files, and index entries without a file
// are dropped, so the directory listing stays the truth about which
// messages exist.
//
//	"posthorn-queue-index 1\n"
//	uvarint count, then per message:
//	  id, kind, from (strings: uvarint length, bytes), arrival (time),
//	  uvarint len(to), each to (string),
//	  mail options, rcpt options (strings: JSON, "" when empty),
//	  uvarint off, uvarint size, byte hasState, then when set:
//	    uvarint attempts, next, last attempt (times), byte flags
//	    (1 held, 2 delay warned), last reply (string), and per recipient
//	    status, reply, enhanced (strings), uvarint code
//	CRC-32 (Castagnoli) of everything before it, 4 bytes big-endian
//
// A time is a byte 0 for the zero time, or 1 and a varint of Unix
// nanoseconds.
const indexMagic = "posthorn-queue-index 1\n"

// maxIndexString bounds a string read from the index.
const maxIndexString = maxRecordLen

func (s *store) indexPath() string { return filepath.Join(s.dir, "index") }

type indexWriter struct {
	w   *bufio.Writer
	h   crcWriter
	buf []byte
}

type crcWriter struct{ sum uint32 }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (c *crcWriter) Write(p []byte) (int, error) {
	c.sum = crc32.Update(c.sum, castagnoli, p)
	return len(p), nil
}

func (w *indexWriter) uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *indexWriter) str(s string)     { w.uvarint(uint64(len(s))); w.buf = append(w.buf, s...) }
func (w *indexWriter) time(t time.Time) {
	if t.IsZero() {
		w.buf = append(w.buf, 0)
		return
	}
	w.buf = append(w.buf, 1)
	w.buf = binary.AppendVarint(w.buf, t.UnixNano())
}

func (w *indexWriter) flush() error {
	w.h.Write(w.buf)
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeIndex writes the snapshot of entries, durably (write, fsync,
// rename, fsync the directory).
func (s *store) writeIndex(entries map[string]*entry) error {
	tmp := filepath.Join(s.dir, "tmp", "index")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w := &indexWriter{w: bufio.NewWriterSize(f, 64<<10)}
	w.buf = append(w.buf, indexMagic...)
	w.uvarint(uint64(len(entries)))
	for _, e := range entries {
		r := e.rec
		w.str(r.ID)
		w.str(string(r.Kind))
		w.str(r.From)
		w.time(r.Arrival)
		w.uvarint(uint64(len(r.To)))
		for _, to := range r.To {
			w.str(to)
		}
		var mo, ro []byte
		if r.MailOptions != (smtp.MailOptions{}) {
			if mo, err = json.Marshal(r.MailOptions); err != nil {
				return fail(err)
			}
		}
		if r.RcptOptions != nil {
			if ro, err = json.Marshal(r.RcptOptions); err != nil {
				return fail(err)
			}
		}
		w.str(string(mo))
		w.str(string(ro))
		w.uvarint(uint64(e.off))
		w.uvarint(uint64(e.size))
		st := &e.st
		w.buf = append(w.buf, 1)
		w.uvarint(uint64(st.Attempts))
		w.time(st.NextAttempt)
		w.time(st.LastAttempt)
		var flags byte
		if st.Held {
			flags |= 1
		}
		if st.DelayWarned {
			flags |= 2
		}
		w.buf = append(w.buf, flags)
		w.str(st.LastReply)
		for _, rs := range st.Rcpts {
			w.str(string(rs.Status))
			w.str(rs.Reply)
			w.str(rs.Enhanced)
			w.uvarint(uint64(rs.Code))
		}
		if len(w.buf) > 32<<10 {
			if err := w.flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := w.flush(); err != nil {
		return fail(err)
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], w.h.sum)
	w.w.Write(sum[:])
	if err := w.w.Flush(); err != nil {
		return fail(err)
	}
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, s.indexPath()); err != nil {
		os.Remove(tmp)
		return err
	}
	s.indexWritten.Store(true)
	return syncDir(s.dir)
}

// dropIndex removes the index once something changes after Close wrote
// it: from then on the files are newer than the snapshot.
func (s *store) dropIndex() error {
	if !s.indexWritten.Swap(false) {
		return nil
	}
	if err := os.Remove(s.indexPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(s.dir)
}

type indexReader struct {
	b   []byte
	err error
}

var errBadIndex = errors.New("smtpqueue: bad index")

func (r *indexReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *indexReader) fail() {
	r.err = errBadIndex
	r.b = nil
}

func (r *indexReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *indexReader) str() string {
	n := r.uvarint()
	if n > maxIndexString || n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *indexReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		v, n := binary.Varint(r.b)
		if n <= 0 {
			r.fail()
			return time.Time{}
		}
		r.b = r.b[n:]
		return time.Unix(0, v)
	}
	r.fail()
	return time.Time{}
}

// readIndex reads the snapshot, then removes it (and syncs the directory)
// so that it can never describe files changed after this Open. It returns
// nil, nil when there is none; an index that does not check out is
// ignored.
func (s *store) readIndex() (map[string]*entry, error) {
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := os.Remove(s.indexPath()); err != nil {
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	return decodeIndex(b)
}

func decodeIndex(b []byte) (map[string]*entry, error) {
	if len(b) < len(indexMagic)+4 || string(b[:len(indexMagic)]) != indexMagic {
		return nil, errBadIndex
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, errBadIndex
	}
	r := &indexReader{b: body[len(indexMagic):]}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, errBadIndex
	}
	out := make(map[string]*entry, n)
	// One allocation for all records and entries of the common case.
	recs := make([]record, n)
	ents := make([]entry, n)
	for i := range n {
		rec := &recs[i]
		rec.ID = r.str()
		rec.Kind = Kind(r.str())
		rec.From = r.str()
		rec.Arrival = r.time()
		nto := r.uvarint()
		if nto == 0 || nto > uint64(len(r.b)) {
			return nil, errBadIndex
		}
		rec.To = make([]string, nto)
		for j := range rec.To {
			rec.To[j] = r.str()
		}
		if mo := r.str(); mo != "" {
			if err := json.Unmarshal([]byte(mo), &rec.MailOptions); err != nil {
				return nil, errBadIndex
			}
		}
		if ro := r.str(); ro != "" {
			if err := json.Unmarshal([]byte(ro), &rec.RcptOptions); err != nil || len(rec.RcptOptions) != len(rec.To) {
				return nil, errBadIndex
			}
		}
		e := &ents[i]
		e.rec, e.heapIdx = rec, -1
		e.off = int64(r.uvarint())
		e.size = int64(r.uvarint())
		if r.byte() != 1 {
			return nil, errBadIndex
		}
		e.st.Attempts = int(r.uvarint())
		e.st.NextAttempt = r.time()
		e.st.LastAttempt = r.time()
		flags := r.byte()
		e.st.Held, e.st.DelayWarned = flags&1 != 0, flags&2 != 0
		e.st.LastReply = r.str()
		e.st.Rcpts = make([]rcptState, nto)
		for j := range e.st.Rcpts {
			rs := &e.st.Rcpts[j]
			rs.Status = RecipientStatus(r.str())
			rs.Reply = r.str()
			rs.Enhanced = r.str()
			rs.Code = int(r.uvarint())
		}
		if r.err != nil || !validID(rec.ID) {
			return nil, errBadIndex
		}
		out[rec.ID] = e
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errBadIndex
	}
	return out, nil
}

var _ io.Writer = (*crcWriter)(nil)
