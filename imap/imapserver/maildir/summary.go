package maildir

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/mime"
)

// The summary cache of a mailbox is the file "posthorn-cache" in its
// directory: what FETCH ENVELOPE, BODY and BODYSTRUCTURE, SORT and THREAD
// need of each message (imapserver.Summary), so that they are served
// without opening the message files, and the header that SEARCH of header
// keys reads. It is append-only, binary: a line
// "posthorn-cache 2 <mailbox GUID>", then one record per message:
//
//	crc32c (4) | payload length (4) | UIDVALIDITY (4) | UID (4) | payload
//
// all little-endian, the checksum over everything after it; the payload
// is the Summary's fields in a fixed order, each a uvarint length and the
// octets. The index (index.go) says where each message's record is (its
// offset times 2^24 plus its length, "loc"); nothing in memory holds a
// summary, so a mailbox of 100,000 messages costs 8 bytes a message for
// it, and the page cache keeps the file.
//
// The cache is derived data: written without fsync, its records are
// checked (checksum, UIDVALIDITY, UID, length) when read, and a record
// that a crash lost, cut or overwrote is computed again from the message
// file and appended. A summary is computed when a message is appended
// through IMAP (from the bytes being written, not read back) and, for
// messages delivered by stream or by other programs, on first use.
// Records of expunged messages are dropped when the cache is rewritten
// at an index checkpoint where they make up most of it
// (compactCacheLocked).
const cacheName = "posthorn-cache"

const (
	cacheHeader = 16
	// maxSummary bounds one record (loc keeps its length in 24 bits); a
	// message whose summary is larger is parsed per use.
	maxSummary = 1<<24 - 1
)

// defaultSummaryMem bounds the summaries a store keeps decoded in
// memory (keepSummary): 64 MiB holds those of some 30,000 messages of
// typical headers, so that the FETCH and SEARCH a client repeats over a
// mailbox read neither the cache file nor decode its records.
const defaultSummaryMem = 64 << 20

func packLoc(off int64, n int) uint64 { return uint64(off)<<24 | uint64(n) }

func unpackLoc(loc uint64) (off int64, n int) { return int64(loc >> 24), int(loc & (1<<24 - 1)) }

// encodeSummary appends the cache record of sum to buf.
func encodeSummary(buf []byte, validity, uid uint32, sum *imapserver.Summary) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, cacheHeader)...)
	for _, b := range [][]byte{sum.Envelope, sum.Body, sum.BodyStructure, sum.Header} {
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	for _, s := range []string{sum.Subject, sum.Date, sum.From, sum.To, sum.Cc, sum.MessageID, sum.InReplyTo, sum.References} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	rec := buf[start:]
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(rec)-cacheHeader))
	binary.LittleEndian.PutUint32(rec[8:], validity)
	binary.LittleEndian.PutUint32(rec[12:], uid)
	binary.LittleEndian.PutUint32(rec[0:], crc32.Checksum(rec[4:], crcTable))
	return buf
}

// decodeSummary checks a cache record and returns its summary, or nil.
func decodeSummary(rec []byte, validity, uid uint32) *imapserver.Summary {
	if len(rec) < cacheHeader ||
		binary.LittleEndian.Uint32(rec[4:]) != uint32(len(rec)-cacheHeader) ||
		binary.LittleEndian.Uint32(rec[8:]) != validity ||
		binary.LittleEndian.Uint32(rec[12:]) != uid ||
		binary.LittleEndian.Uint32(rec[0:]) != crc32.Checksum(rec[4:], crcTable) {
		return nil
	}
	p := rec[cacheHeader:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, false
		}
		b := p[k : k+int(n) : k+int(n)]
		p = p[k+int(n):]
		return b, true
	}
	var sum imapserver.Summary
	var ok bool
	for _, f := range []*[]byte{&sum.Envelope, &sum.Body, &sum.BodyStructure, &sum.Header} {
		if *f, ok = next(); !ok {
			return nil
		}
	}
	// The header fields: one string for all of them.
	var fields [8][]byte
	total := 0
	for i := range fields {
		if fields[i], ok = next(); !ok {
			return nil
		}
		total += len(fields[i])
	}
	if len(p) != 0 {
		return nil
	}
	all := make([]byte, 0, total)
	for _, f := range fields {
		all = append(all, f...)
	}
	text := string(all)
	for i, f := range []*string{&sum.Subject, &sum.Date, &sum.From, &sum.To, &sum.Cc, &sum.MessageID, &sum.InReplyTo, &sum.References} {
		*f, text = text[:len(fields[i])], text[len(fields[i]):]
	}
	return &sum
}

// openCacheLocked opens the mailbox's summary cache for reading and
// appending (created when missing).
func (mb *mailbox) openCacheLocked() {
	mb.cacheMu.Lock()
	defer mb.cacheMu.Unlock()
	if mb.cache != nil {
		return
	}
	f, err := mb.u.s.fs.OpenFile(mb.path(cacheName), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		mb.u.s.logger.Warn("maildir: opening summary cache", "mailbox", mb.name, "err", err)
		return
	}
	// The file starts with a line naming the mailbox (its GUID): the
	// cache of another mailbox, or of this one before it was deleted and
	// created again, is dropped rather than trusted.
	head := []byte(fmt.Sprintf("posthorn-cache 2 %s\n", mb.guid))
	got := make([]byte, len(head))
	n, _ := f.ReadAt(got, 0)
	if n != len(head) || !bytes.Equal(got, head) {
		err := f.Truncate(0)
		if err == nil {
			_, err = f.Write(head)
		}
		if err != nil {
			f.Close()
			return
		}
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	mb.cache, mb.cacheEnd, mb.cacheValidity = f, info.Size(), mb.uidValidity
}

// closeCache closes the summary cache; summaries are then computed per
// use.
func (mb *mailbox) closeCache() {
	mb.cacheMu.Lock()
	defer mb.cacheMu.Unlock()
	if mb.cache != nil {
		mb.cache.Close()
		mb.cache = nil
	}
}

// readSummary returns the summary at loc, or nil when the record there
// is not this message's.
func (mb *mailbox) readSummary(md *msgData, loc uint64) *imapserver.Summary {
	off, n := unpackLoc(loc)
	buf := make([]byte, n)
	mb.cacheMu.RLock()
	f, validity := mb.cache, mb.cacheValidity
	var err error
	if f != nil {
		_, err = f.ReadAt(buf, off)
	}
	mb.cacheMu.RUnlock()
	if f == nil || err != nil {
		return nil
	}
	return decodeSummary(buf, validity, md.uid)
}

// appendSummary writes a summary record and returns its loc (0 when the
// cache is closed or the write failed).
func (mb *mailbox) appendSummary(uid uint32, sum *imapserver.Summary) uint64 {
	mb.cacheMu.Lock()
	defer mb.cacheMu.Unlock()
	if mb.cache == nil {
		return 0
	}
	rec := encodeSummary(nil, mb.cacheValidity, uid, sum)
	if len(rec) > maxSummary {
		return 0
	}
	off := mb.cacheEnd
	n, err := mb.cache.Write(rec)
	mb.cacheEnd += int64(n)
	if err != nil {
		return 0
	}
	return packLoc(off, len(rec))
}

// Summary implements imapserver.Summarizer: from the summary cache, or
// computed from the message file and added to it.
func (m *message) Summary() *imapserver.Summary {
	if sum := m.decoded.Load(); sum != nil {
		return sum
	}
	mb := m.mb
	if loc := m.sum.Load(); loc != 0 {
		if sum := mb.readSummary(m.msgData, loc); sum != nil {
			mb.u.s.keepSummary(m.msgData, sum)
			return sum
		}
	}
	ra, err := m.Open()
	if err != nil {
		return nil
	}
	sum, _ := mb.u.s.summarize(ra, m.vsize)
	if sum == nil {
		return nil
	}
	mb.u.s.keepSummary(m.msgData, sum)
	if loc := mb.appendSummary(m.uid, sum); loc != 0 {
		m.sum.Store(loc)
		// The index learns where it is, so that the next process finds
		// it (not synced: a lost record means one more parse).
		u := mb.u
		u.mu.Lock()
		if mb.loaded && !mb.deleted && mb.log != nil {
			mb.pendingC = appendRecord(mb.pendingC, &record{kind: 'C', uid: m.uid, loc: loc})
			mb.pendingCn++
			mb.cacheRecs++
			if len(mb.pendingC) >= 64<<10 {
				mb.flushSummaryLocsLocked()
			}
		}
		u.mu.Unlock()
	}
	return sum
}

// keepSummary keeps sum decoded in md while the store's budget for
// summaries in memory lasts: a message's summary never changes (its UID
// names one content), so it is read and decoded once. What it takes is
// given back when sum is collected (its message expunged, its mailbox
// dropped): the budget bounds what is held, not what was ever read. The
// cleanup is on sum, not md: messages loaded from the index share one
// array, and the runtime keeps an object's cleanups in a list per span.
func (s *Store) keepSummary(md *msgData, sum *imapserver.Summary) {
	// The octets and the Summary's own words (slice and string headers),
	// and, estimated, the server's parse of the header that a SEARCH or
	// FETCH of header sections keeps in it: its fields' names and values
	// and the part's own words.
	n := int64(len(sum.Envelope)+len(sum.Body)+len(sum.BodyStructure)+len(sum.Header)+
		len(sum.Subject)+len(sum.Date)+len(sum.From)+len(sum.To)+len(sum.Cc)+
		len(sum.MessageID)+len(sum.InReplyTo)+len(sum.References)) + 256 +
		int64(len(sum.Header)) + 640
	if s.summaryMem.Add(n) > s.summaryMemMax {
		s.summaryMem.Add(-n)
		return
	}
	if !md.decoded.CompareAndSwap(nil, sum) {
		s.summaryMem.Add(-n)
		return
	}
	// The cleanup holds the counter alone: nothing that reaches sum.
	mem := s.summaryMem
	runtime.AddCleanup(sum, func(n int64) { mem.Add(-n) }, n)
}

// compactCacheLocked rewrites the summary cache without the records no
// message refers to (expunged messages', records computed twice), when
// they make up most of it. The new file replaces the old by a rename,
// unsynced like every cache write: should the index checkpoint that
// follows be lost, its locations point into the new file, fail their
// checks and are computed again. The caller holds user.mu.
func (mb *mailbox) compactCacheLocked() {
	var live int64
	for _, m := range mb.msgs {
		_, n := unpackLoc(m.sum.Load())
		live += int64(n)
	}
	mb.cacheMu.Lock()
	defer mb.cacheMu.Unlock()
	if mb.cache == nil || mb.cacheEnd <= 2*live+mb.u.s.cacheSlack {
		return
	}
	fsys := mb.u.s.fs
	tmp := mb.path(cacheName + ".new")
	nf, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	head := []byte(fmt.Sprintf("posthorn-cache 2 %s\n", mb.guid))
	w := bufio.NewWriterSize(nf, 1<<16)
	w.Write(head)
	end := int64(len(head))
	locs := make([]uint64, len(mb.msgs))
	var buf []byte
	for i, m := range mb.msgs {
		off, n := unpackLoc(m.sum.Load())
		if n == 0 {
			continue
		}
		buf = slices.Grow(buf[:0], n)[:n]
		if _, err := mb.cache.ReadAt(buf, off); err != nil || decodeSummary(buf, mb.cacheValidity, m.uid) == nil {
			continue // computed again when needed
		}
		w.Write(buf)
		locs[i] = packLoc(end, n)
		end += int64(n)
	}
	if err := w.Flush(); err != nil {
		nf.Close()
		fsys.Remove(tmp)
		return
	}
	if err := fsys.Rename(tmp, mb.path(cacheName)); err != nil {
		nf.Close()
		fsys.Remove(tmp)
		return
	}
	mb.cache.Close()
	mb.cache, mb.cacheEnd = nf, end
	for i, m := range mb.msgs {
		m.sum.Store(locs[i])
	}
}

// summarize is imapserver.Summarize with an Indexer from the store's pool.
func (s *Store) summarize(r io.ReaderAt, size int64) (*imapserver.Summary, error) {
	ix, _ := s.indexers.Get().(*mime.Indexer)
	sum, err := imapserver.Summarize(ix, r, size)
	if ix != nil {
		s.indexers.Put(ix)
	}
	return sum, err
}
