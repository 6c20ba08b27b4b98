package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// pendingFile is a message on its way into a mailbox: written and
// synced in tmp (or, for a copy, an existing file to link).
type pendingFile struct {
	tmpPath  string   // written to tmp, synced
	linkFrom *message // or: a copy of this message's file
	// sum is the message's summary when it was computed on the way in.
	sum   *imapserver.Summary
	base  string
	flags []string
	date  time.Time
	vsize int64
	raw   bool

	final string // where it went
}

// commitReq is one APPEND, MULTIAPPEND, COPY, MOVE or delivery: its
// files enter one mailbox together, or none does.
type commitReq struct {
	mailbox string
	files   []*pendingFile
	origin  *handle
	// quota: false for a MOVE (no net change within the user's root).
	quota bool
	// after runs under user.mu once the messages are in, for MOVE.
	after func(dst *mailbox)

	mb           *mailbox
	reserved     int64
	reservedMsgs int64
	res          []imapserver.AppendResult
	err          error
	done         chan struct{}
}

// committer is the group commit of one user: the first request to
// arrive while none is being committed commits every request queued
// meanwhile, sharing the directory and index fsyncs, so that throughput
// grows with concurrency.
type committer struct {
	u       *user
	mu      sync.Mutex
	queue   []*commitReq
	running bool
}

func (c *committer) submit(r *commitReq) error {
	r.done = make(chan struct{})
	c.mu.Lock()
	c.queue = append(c.queue, r)
	if c.running {
		c.mu.Unlock()
		<-r.done
		return r.err
	}
	c.running = true
	for len(c.queue) > 0 {
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		c.u.commitBatch(batch)
		for _, b := range batch {
			if b != r {
				close(b.done)
			}
		}
		c.mu.Lock()
	}
	c.running = false
	c.mu.Unlock()
	return r.err
}

func (u *user) commitBatch(batch []*commitReq) {
	fsys := u.s.fs
	// 1. Under the lock: the mailbox, the quota (reserved until the end),
	// keyword letters and the final names.
	u.mu.Lock()
	for _, r := range batch {
		mb, err := u.selectableLocked(r.mailbox)
		if err != nil {
			r.err = err
			continue
		}
		var total int64
		for _, f := range r.files {
			total += f.vsize
		}
		if r.quota {
			if err := u.quotaCheckLocked(int64(len(r.files)), total); err != nil {
				r.err = err
				continue
			}
			u.reserved += total
			u.reservedMsgs += int64(len(r.files))
			r.reserved, r.reservedMsgs = total, int64(len(r.files))
		}
		r.mb = mb
		for _, f := range r.files {
			mb.incoming[f.base] = true
			mb.keywordLettersLocked(f.flags)
			if len(f.flags) == 0 && f.linkFrom == nil {
				f.final = mb.path("new", f.base)
			} else {
				f.final = mb.path("cur", mb.fileName(f.base, f.flags))
			}
		}
	}
	u.mu.Unlock()

	// 2. Without the lock: into new (or cur), then one fsync per directory.
	dirs := map[string]bool{}
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		for i, f := range r.files {
			var err error
			if f.linkFrom != nil {
				err = linkOrCopy(u.s, f.linkFrom, f.final, r.mb)
			} else {
				err = fsys.Rename(f.tmpPath, f.final)
			}
			if err != nil {
				r.err = fmt.Errorf("maildir: storing message: %w", err)
				for _, g := range r.files[:i] {
					fsys.Remove(g.final)
				}
				break
			}
			dirs[filepath.Dir(f.final)] = true
		}
	}
	var syncErr error
	for d := range dirs {
		if err := fsys.SyncDir(d); err != nil {
			syncErr = err
		}
	}

	// 3. Under the lock: UIDs, index records, one index fsync per
	// mailbox, and only then the news for the other sessions.
	u.mu.Lock()
	defer u.mu.Unlock()
	logs := map[*mailbox]bool{}
	for _, r := range batch {
		u.reserved -= r.reserved
		u.reservedMsgs -= r.reservedMsgs
		if r.mb != nil {
			for _, f := range r.files {
				delete(r.mb.incoming, f.base)
			}
		}
		if r.err == nil && syncErr != nil {
			r.err = fmt.Errorf("maildir: syncing: %w", syncErr)
		}
		if r.err == nil && r.mb.deleted {
			r.err = fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, r.mailbox)
		}
		if r.err != nil {
			if r.mb != nil {
				for _, f := range r.files {
					if f.final != "" {
						fsys.Remove(f.final)
					}
				}
			}
			for _, f := range r.files {
				if f.tmpPath != "" {
					fsys.Remove(f.tmpPath)
				}
			}
			continue
		}
		mb := r.mb
		mb.modSeq++
		recs := make([]*record, 0, len(r.files))
		r.res = make([]imapserver.AppendResult, 0, len(r.files))
		for _, f := range r.files {
			md := &msgData{uid: mb.uidNext, date: f.date, vsize: f.vsize, raw: f.raw, base: f.base, mb: mb}
			p := f.final
			md.path.Store(&p)
			md.inCur = filepath.Base(filepath.Dir(p)) == "cur"
			var loc uint64
			if f.sum != nil {
				// Not synced: the cache is derived (summary.go).
				loc = mb.appendSummary(md.uid, f.sum)
				md.sum.Store(loc)
			}
			mb.uidNext++
			m := &message{md, &flagState{modSeq: mb.modSeq, flags: f.flags}}
			mb.msgs = append(mb.msgs, m)
			mb.size += m.vsize
			recs = append(recs, &record{kind: 'A', uid: md.uid, modSeq: mb.modSeq, date: f.date.UnixNano(), size: f.vsize, raw: f.raw, inCur: md.inCur, base: f.base, flags: f.flags, loc: loc})
			r.res = append(r.res, imapserver.AppendResult{UIDValidity: mb.uidValidity, UID: md.uid})
		}
		if err := mb.writeLogLocked(recs...); err != nil {
			r.err = err
		}
		mb.uidlistDirty = true
		logs[mb] = true
	}
	for mb := range logs {
		if mb.log != nil {
			if err := mb.log.Sync(); err != nil {
				for _, r := range batch {
					if r.mb == mb && r.err == nil {
						r.err = fmt.Errorf("maildir: syncing index: %w", err)
					}
				}
			}
		}
		mb.stampLocked()
	}
	for _, r := range batch {
		if r.err != nil || r.mb == nil {
			continue
		}
		for i, res := range r.res {
			r.mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateNew, UID: res.UID, Flags: r.files[i].flags, ModSeq: r.mb.modSeq}, r.origin)
		}
		if r.after != nil {
			r.after(r.mb)
		}
	}
	for mb := range logs {
		if err := mb.maybeCheckpointLocked(); err != nil {
			u.s.logger.Warn("maildir: checkpoint", "mailbox", mb.name, "err", err)
		}
	}
}

// linkOrCopy makes dst a hard link to src, or a synced copy where the
// file system has no hard links.
func linkOrCopy(s *Store, md *message, dst string, mb *mailbox) error {
	var err error
	var src string
	for try := 0; try < 3; try++ {
		// A flag change may rename the source meanwhile: take its path again.
		src = md.curPath()
		if err = s.fs.Link(src, dst); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err == nil {
		return nil
	}
	data, rerr := s.fs.ReadFile(src)
	if rerr != nil {
		return err
	}
	tmp := mb.path("tmp", filepath.Base(dst))
	if err := writeSynced(s.fs, tmp, data, time.Time{}); err != nil {
		return err
	}
	return s.fs.Rename(tmp, dst)
}

func writeSynced(fsys fileSystem, path string, data []byte, date time.Time) error {
	return writeSyncedFunc(fsys, path, date, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeSyncedFunc is writeSynced with the content written by write.
func writeSyncedFunc(fsys fileSystem, path string, date time.Time, write func(io.Writer) error) error {
	f, err := fsys.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil && !date.IsZero() {
		err = fsys.Chtimes(path, date)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fsys.Remove(path)
	}
	return err
}

// writeMessage writes a message given whole into tmp and syncs it. With
// CRLF line ends throughout (and no NUL) it is kept with LF; otherwise
// byte for byte, marked raw.
func (s *Store) writeMessage(mb *mailbox, data []byte, flags []string, date time.Time) (*pendingFile, error) {
	f := &pendingFile{flags: flags, date: date, vsize: int64(len(data))}
	lf := cleanCRLF(data)
	f.raw = !lf
	size := len(data)
	if lf {
		size -= bytes.Count(data, lfOctet) // each CRLF is stored as LF
	}
	// The summary comes from the bytes in hand (served form: data), so
	// that FETCH ENVELOPE never opens the file (summary.go).
	f.sum, _ = s.summarize(bytes.NewReader(data), int64(len(data)))
	f.base = fmt.Sprintf("%s,S=%d,W=%d", s.uniqueBase(), size, f.vsize)
	f.tmpPath = mb.path("tmp", f.base)
	write := func(w io.Writer) error {
		if !lf {
			_, err := w.Write(data)
			return err
		}
		// Converted on the way, a line at a time, through a pooled
		// buffer: no second copy of the message.
		bw := s.writer(w)
		defer s.putWriter(bw)
		lw := &lfWriter{w: bw}
		lw.Write(data)
		return bw.Flush()
	}
	if err := writeSyncedFunc(s.fs, f.tmpPath, date, write); err != nil {
		return nil, fmt.Errorf("maildir: writing message: %w", err)
	}
	return f, nil
}
