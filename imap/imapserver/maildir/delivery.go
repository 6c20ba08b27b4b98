package maildir

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// Deliver adds a message to the user's INBOX and returns its UID. r is
// read to its end and written to disk as it arrives (CRLF, bare LF and
// bare CR all end a line; the file keeps LF, IMAP and POP3 serve CRLF).
// It returns only when the message is durable (see the package
// guarantees). It fails with ErrNoSuchUser for an unknown account and
// with imapserver.ErrOverQuota (storing nothing) when the user's quota
// would be exceeded.
func (s *Store) Deliver(ctx context.Context, username string, r io.Reader) (uint32, error) {
	return s.DeliverTo(ctx, username, "INBOX", r, nil, time.Time{})
}

// DeliverTo adds a message to any mailbox of the user, with flags and an
// internal date (the zero Time means now).
func (s *Store) DeliverTo(ctx context.Context, username, mailbox string, r io.Reader, flags []string, date time.Time) (uint32, error) {
	u, err := s.user(username)
	if err != nil {
		return 0, err
	}
	mb, err := u.mailboxForWrite(mailbox)
	if err != nil {
		return 0, err
	}
	if date.IsZero() {
		date = s.now()
	}
	f, err := s.writeStream(mb, nil, r, date)
	if err != nil {
		return 0, err
	}
	f.flags = normFlags(flags)
	req := &commitReq{mailbox: mailbox, quota: true, files: []*pendingFile{f}}
	if err := u.commit.submit(req); err != nil {
		return 0, err
	}
	return req.res[0].UID, nil
}

// DeliverMessage delivers one message to the INBOX of each of usernames
// (it implements smtpserver.DeliveryStore). The body streams into a
// file in tmp of the first known recipient, with LF line ends; after
// io.EOF the header lines header returns are written in front of it in
// a second file (the body copied from the page cache), which is synced
// and hard-linked into the other recipients' tmp. Each recipient's
// commit is durable before DeliverMessage returns, and deliveries to one
// user at the same time share their fsyncs (group commit).
//
// When the SMTP server's verdict (smtpserver.InboundVerdict) says the
// sender's DMARC policy quarantines the message, it is filed into each
// recipient's \Junk mailbox (or "Junk", created if missing), flagged
// $Junk, instead of the INBOX.
//
// perRecipient[i] is nil when delivered, ErrNoSuchUser (fs.ErrNotExist)
// for an unknown account, or imapserver.ErrOverQuota (syscall.EDQUOT).
func (s *Store) DeliverMessage(ctx context.Context, usernames []string, body io.Reader, header func() []byte) (perRecipient []error, err error) {
	perRecipient = make([]error, len(usernames))
	users := make([]*user, len(usernames))
	mbs := make([]*mailbox, len(usernames))
	first := -1
	for i, name := range usernames {
		u, err := s.user(name)
		if err == nil {
			mbs[i], err = u.mailboxForWrite("INBOX")
		}
		users[i], perRecipient[i] = u, err
		if err == nil && first < 0 {
			first = i
		}
	}
	if first < 0 {
		// Nobody to deliver to; the body is still read to its end.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, fmt.Errorf("maildir: reading message: %w", err)
		}
		return perRecipient, nil
	}
	date := s.now()
	f, err := s.writeStream(mbs[first], header, body, date)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		s.fs.Remove(f.tmpPath)
		return nil, err
	}
	// One file per recipient: a hard link where possible.
	files := make([]*pendingFile, len(usernames))
	files[first] = f
	for i := range usernames {
		if perRecipient[i] != nil || i == first {
			continue
		}
		g := *f
		g.base = strings.Replace(f.base, "Q", "Q"+strconv.Itoa(i)+"-", 1)
		g.tmpPath = mbs[i].path("tmp", g.base)
		if err := s.fs.Link(f.tmpPath, g.tmpPath); err != nil {
			data, rerr := s.fs.ReadFile(f.tmpPath)
			if rerr == nil {
				err = writeSynced(s.fs, g.tmpPath, data, date)
			}
			if err != nil {
				perRecipient[i] = fmt.Errorf("maildir: storing message: %w", err)
				continue
			}
		}
		files[i] = &g
	}
	// The whole message has arrived, so the SMTP server's verdict is
	// final: mail the sender's DMARC policy quarantines (RFC 9989
	// §5.3.7) is filed at commit into each recipient's Junk mailbox,
	// flagged $Junk, instead of the INBOX.
	quarantine := false
	if v := smtpserver.InboundVerdict(ctx); v != nil && v.Quarantine {
		quarantine = true
	}
	// The links become durable with the rename into new and its
	// directory's fsync; the users commit in parallel.
	var wg sync.WaitGroup
	for i := range usernames {
		if perRecipient[i] != nil {
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := &commitReq{mailbox: "INBOX", quota: true, files: []*pendingFile{files[i]}}
			if quarantine {
				u := users[i]
				u.mu.Lock()
				name, err := u.junkMailboxLocked()
				u.mu.Unlock()
				if err != nil {
					s.fs.Remove(files[i].tmpPath)
					perRecipient[i] = err
					return
				}
				req.mailbox = name
				files[i].flags = []string{junkFlag}
			}
			perRecipient[i] = users[i].commit.submit(req)
		}(i)
	}
	wg.Wait()
	return perRecipient, nil
}

// CheckQuota reports ErrNoSuchUser for an unknown account and
// imapserver.ErrOverQuota when one more message of size octets would
// exceed the user's quota now (for RCPT with SIZE=; smtpserver's
// DeliveryStore). The delivery checks again, atomically with its commit.
func (s *Store) CheckQuota(ctx context.Context, username string, size int64) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.quotaCheckLocked(1, size)
}

// The POP3 maildrop is the user's INBOX; the three methods below are
// pop3server.MaildropStore. The lock is held in this process and as
// Dovecot's POP3 session dotlock in the user's directory (poplock.go).

// LockMaildrop takes the user's POP3 lock and snapshots the INBOX: UIDLs
// "<uidvalidity>.<uid>" and sizes with CRLF line ends, in UID order. It
// fails with ErrMaildropLocked (syscall.EBUSY) while another session of
// this store or another program (Dovecot's POP3 with pop3_lock_session)
// holds the lock, after waiting Options.MaildropLockWait for the latter,
// and with ErrNoSuchUser (fs.ErrNotExist) for an unknown account.
func (s *Store) LockMaildrop(ctx context.Context, username string) (uidls []string, sizes []int64, unlock func(), err error) {
	u, err := s.user(username)
	if err != nil {
		return nil, nil, nil, err
	}
	u.mu.Lock()
	if u.popLocked {
		u.mu.Unlock()
		return nil, nil, nil, ErrMaildropLocked
	}
	u.popLocked = true
	u.mu.Unlock()
	// RFC 1939 §8: the lock is exclusive, for every program serving the
	// maildrop; waiting for it happens without the user's mutex.
	dl, err := s.takePOPLock(ctx, filepath.Join(u.dir, popLockName), s.popLockWait)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.popLocked = false
		return nil, nil, nil, err
	}
	mb, err := u.selectableLocked("INBOX")
	if err == nil {
		err = mb.rescanLocked()
	}
	if err != nil {
		dl.release()
		u.popLocked = false
		return nil, nil, nil, err
	}
	uidls = make([]string, len(mb.msgs))
	sizes = make([]int64, len(mb.msgs))
	prefix := strconv.FormatUint(uint64(mb.uidValidity), 10) + "."
	for i, m := range mb.msgs {
		uidls[i] = prefix + strconv.FormatUint(uint64(m.uid), 10)
		sizes[i] = m.vsize
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			dl.release()
			u.mu.Lock()
			u.popLocked = false
			u.mu.Unlock()
		})
	}
	return uidls, sizes, unlock, nil
}

// OpenMaildropMessage returns the INBOX message with the given UIDL,
// with CRLF line ends, as an io.ReadCloser streaming its file (the
// caller closes it); a message expunged since is an error wrapping
// imapserver.ErrNoSuchMessage and fs.ErrNotExist.
func (s *Store) OpenMaildropMessage(ctx context.Context, username, uidl string) (io.Reader, error) {
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		u.mu.Unlock()
		return nil, err
	}
	i := -1
	if uid, ok := parseUIDL(uidl, mb.uidValidity); ok {
		i = mb.find(uid)
	}
	if i < 0 {
		u.mu.Unlock()
		return nil, fmt.Errorf("%w: UIDL %q (%w)", imapserver.ErrNoSuchMessage, uidl, fs.ErrNotExist)
	}
	m := mb.msgs[i]
	u.mu.Unlock()
	// Streamed from the file, converted on the way: constant memory
	// whatever the message's size (the caller closes it).
	return m.openStream(&s.readBufs)
}

// DeleteMaildropMessages expunges the INBOX messages with the given
// UIDLs (POP3's UPDATE state), durably before it returns. UIDLs already
// gone are ignored; it refuses when no POP3 lock is held.
func (s *Store) DeleteMaildropMessages(ctx context.Context, username string, uidls []string) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.popLocked {
		return fmt.Errorf("maildir: maildrop of %q is not locked", username)
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return err
	}
	del := make(map[uint32]bool, len(uidls))
	for _, uidl := range uidls {
		if uid, ok := parseUIDL(uidl, mb.uidValidity); ok {
			del[uid] = true
		}
	}
	if err := mb.expungeLocked(func(m *message) bool { return del[m.uid] }, nil, false); err != nil {
		return err
	}
	mb.stampLocked()
	if mb.log != nil {
		return mb.log.Sync()
	}
	return nil
}

func parseUIDL(uidl string, validity uint32) (uint32, bool) {
	v, u, ok := strings.Cut(uidl, ".")
	if !ok {
		return 0, false
	}
	vn, err1 := strconv.ParseUint(v, 10, 32)
	un, err2 := strconv.ParseUint(u, 10, 32)
	if err1 != nil || err2 != nil || uint32(vn) != validity || un == 0 {
		return 0, false
	}
	return uint32(un), true
}

// lfWriter writes with LF line ends: CRLF, bare LF and bare CR all end a
// line. It counts the octets written and the lines, for ,S= and ,W=.
type lfWriter struct {
	w       *bufio.Writer
	cr      bool
	written int64
	lines   int64
	// in keeps what came in, for the summary, in a pooled buffer of
	// maxSummarized octets, until it would overflow (then in is nil and
	// the buffer back in the pool).
	in   *[]byte
	pool *sync.Pool
}

// maxSummarized is the largest delivery summarised as it streams in
// (summary.go); a larger one is summarised on first use. The buffer is
// fixed and pooled: growing one by appends for every delivery took a
// large delivery's peak heap from 0.2 to 4 MiB (TestDeliveryMemory).
const maxSummarized = 256 << 10

// keepIn starts keeping what comes in, in a buffer from pool.
func (l *lfWriter) keepIn(pool *sync.Pool) {
	l.pool = pool
	if b, ok := pool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		l.in = b
		return
	}
	b := make([]byte, 0, maxSummarized)
	l.in = &b
}

// releaseIn stops keeping what comes in and gives the buffer back.
func (l *lfWriter) releaseIn() {
	if l.in != nil {
		l.pool.Put(l.in)
		l.in = nil
	}
}

func (l *lfWriter) Write(p []byte) (int, error) {
	if l.in != nil {
		if b := *l.in; len(b)+len(p) <= cap(b) {
			*l.in = append(b, p...)
		} else {
			l.releaseIn()
		}
	}
	n := len(p)
	// Lines: the LFs of p, less those that complete a CRLF, plus the CRs.
	l.lines += int64(bytes.Count(p, lfOctet))
	for len(p) > 0 {
		if l.cr {
			l.cr = false
			if p[0] == '\n' {
				p = p[1:]
				l.lines-- // the CR before it ended the line
				continue
			}
		}
		i := bytes.IndexByte(p, '\r')
		if i < 0 {
			l.w.Write(p)
			l.written += int64(len(p))
			break
		}
		l.w.Write(p[:i])
		l.w.WriteByte('\n')
		l.written += int64(i) + 1
		l.lines++
		l.cr = true
		p = p[i+1:]
	}
	return n, nil
}

var lfOctet = []byte{'\n'}

// writer returns a 64 KiB buffered writer onto w from the store's pool;
// putWriter gives it back.
func (s *Store) writer(w io.Writer) *bufio.Writer {
	if bw, ok := s.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 64<<10)
}

func (s *Store) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	s.writers.Put(bw)
}

// writeStream writes a message into tmp as it arrives with LF line ends
// and syncs it. header, if not nil, is called after the body's io.EOF
// for lines to put in front: the body is then copied behind them into a
// second file (from the page cache), since a file cannot grow at its
// start. The size fields are known only at the end, so the file gets
// its final name by a rename within tmp.
func (s *Store) writeStream(mb *mailbox, header func() []byte, r io.Reader, date time.Time) (*pendingFile, error) {
	base := s.uniqueBase()
	tmp := mb.path("tmp", base)
	fh, err := s.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: writing message: %w", err)
	}
	fail := func(err error) (*pendingFile, error) {
		fh.Close()
		s.fs.Remove(tmp)
		return nil, fmt.Errorf("maildir: writing message: %w", err)
	}
	lw := &lfWriter{w: s.writer(fh)}
	lw.keepIn(&s.inBufs)
	defer func() { s.putWriter(lw.w); lw.releaseIn() }()
	if _, err := io.Copy(lw, r); err != nil {
		return fail(err)
	}
	var in []byte
	if lw.in != nil {
		in = *lw.in
	}
	if err := lw.w.Flush(); err != nil {
		return fail(err)
	}
	var h []byte
	if header != nil {
		h = header()
	}
	if len(h) > 0 {
		// Header first, then the body read back.
		body, bodyLen, bodyLines := fh, lw.written, lw.lines
		tmp2 := tmp + ".h"
		fh2, err := s.fs.OpenFile(tmp2, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return fail(err)
		}
		lw.w.Reset(fh2)
		lw = &lfWriter{w: lw.w}
		lw.Write(h)
		lw.cr = false
		// Through a pooled buffer: io.Copy would hand the copy to the
		// file's ReadFrom, which allocates 32 KiB for a SectionReader.
		buf := getBuf(&s.readBufs)
		_, err = io.CopyBuffer(struct{ io.Writer }{lw.w}, io.NewSectionReader(body, 0, bodyLen), *buf)
		s.readBufs.Put(buf)
		if err != nil {
			fh2.Close()
			s.fs.Remove(tmp2)
			return fail(err)
		}
		hl := lw.lines
		if err := lw.w.Flush(); err != nil {
			fh2.Close()
			s.fs.Remove(tmp2)
			return fail(err)
		}
		lw.written += bodyLen
		lw.lines = hl + bodyLines
		body.Close()
		s.fs.Remove(tmp)
		fh, tmp = fh2, tmp2
	}
	if err := s.fs.Chtimes(tmp, date); err != nil {
		return fail(err)
	}
	if err := fh.Sync(); err != nil {
		return fail(err)
	}
	if err := fh.Close(); err != nil {
		s.fs.Remove(tmp)
		return nil, err
	}
	f := &pendingFile{date: date, vsize: lw.written + lw.lines}
	if in != nil {
		// The summary from the bytes as they came in, as served: every
		// line end CRLF, as lfWriter and then Open make them.
		served := toCRLF(in)
		if len(h) > 0 {
			served = append(toCRLF(h), served...)
		}
		if int64(len(served)) == f.vsize {
			f.sum, _ = s.summarize(bytes.NewReader(served), f.vsize)
		}
	}
	f.base = fmt.Sprintf("%s,S=%d,W=%d", base, lw.written, f.vsize)
	f.tmpPath = mb.path("tmp", f.base)
	if err := s.fs.Rename(tmp, f.tmpPath); err != nil {
		s.fs.Remove(tmp)
		return nil, err
	}
	return f, nil
}
