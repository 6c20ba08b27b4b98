package smtpqueue

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/smtp"
)

// The on-disk layout (see the package doc):
//
//	dir/tmp/<id>     being written; removed on Open
//	dir/msg/<id>     one queued message: magic line, JSON record line, message
//	dir/state/<id>   its delivery state (JSON), replaced atomically
const (
	magic        = "posthorn-queue 1\n"
	maxRecordLen = 1 << 20 // bound on the JSON record line of a message file
)

// record is the immutable part of a queued message, written once at
// Enqueue as the first lines of its file.
type record struct {
	ID          string             `json:"id"`
	Arrival     time.Time          `json:"arrival"`
	Kind        Kind               `json:"kind,omitempty"`
	From        string             `json:"from"`
	To          []string           `json:"to"`
	MailOptions smtp.MailOptions   `json:"mail,omitzero"`
	RcptOptions []smtp.RcptOptions `json:"rcpt,omitempty"`
}

// state is the mutable part, rewritten after every attempt.
type state struct {
	Attempts    int         `json:"attempts"`
	NextAttempt time.Time   `json:"next"`
	Held        bool        `json:"held,omitempty"`
	DelayWarned bool        `json:"delayWarned,omitempty"`
	LastReply   string      `json:"lastReply,omitempty"`
	LastAttempt time.Time   `json:"lastAttempt,omitzero"`
	Rcpts       []rcptState `json:"rcpts"`
}

type rcptState struct {
	Status   RecipientStatus `json:"status"`
	Reply    string          `json:"reply,omitempty"`    // the last reply, one line
	Code     int             `json:"code,omitempty"`     // its reply code, 0 for a local error
	Enhanced string          `json:"enhanced,omitempty"` // its enhanced code
}

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// store does the file system work; the Queue keeps the index in memory.
type store struct {
	dir                string
	msgSync, stateSync groupSync
	noSync             bool // tests only: build large queues fast
	// indexWritten says Close wrote the index: the next write removes it.
	indexWritten atomic.Bool
}

func openStore(dir string) (*store, error) {
	for _, sub := range []string{"tmp", "msg", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	s := &store{dir: dir}
	s.msgSync.dir = filepath.Join(dir, "msg")
	s.stateSync.dir = filepath.Join(dir, "state")
	// Files in tmp were never acknowledged: a crash came before their
	// rename.
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		os.Remove(filepath.Join(dir, "tmp", e.Name()))
	}
	return s, nil
}

func (s *store) path(sub, id string) string { return filepath.Join(s.dir, sub, id) }

// newID returns a queue ID: the time in hex, so IDs sort by arrival, and
// 48 random bits.
func newID(now time.Time) string {
	var r [6]byte
	rand.Read(r[:])
	return fmt.Sprintf("%013x", now.UnixMicro()) + hex.EncodeToString(r[:])
}

// validID keeps names read from the directory or given to operations
// inside it.
func validID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeMessage writes rec and the message to tmp, fsyncs the file, renames
// it into msg and fsyncs msg (shared with concurrent callers). It returns the
// offset of the message in the file and its size. Only after it returns is
// the message durable.
func (s *store) writeMessage(rec *record, msg io.Reader, max int64) (off, size int64, err error) {
	if err := s.dropIndex(); err != nil {
		return 0, 0, err
	}
	hdr, err := json.Marshal(rec)
	if err != nil {
		return 0, 0, err
	}
	tmp := s.path("tmp", rec.ID)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, 0, err
	}
	fail := func(e error) (int64, int64, error) {
		f.Close()
		os.Remove(tmp)
		return 0, 0, e
	}
	w := writerPool.Get().(*bufio.Writer)
	w.Reset(f)
	defer func() { w.Reset(nil); writerPool.Put(w) }()
	w.WriteString(magic)
	w.Write(hdr)
	w.WriteByte('\n')
	off = int64(len(magic) + len(hdr) + 1)
	if max > 0 {
		msg = io.LimitReader(msg, max+1)
	}
	size, err = io.Copy(w, msg)
	if err != nil {
		return fail(err)
	}
	if max > 0 && size > max {
		return fail(ErrTooLarge)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	// Write, fsync, rename, fsync the directory: the Maildir discipline.
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if err := os.Rename(tmp, s.path("msg", rec.ID)); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if s.noSync {
		return off, size, nil
	}
	if err := s.msgSync.sync(); err != nil {
		return 0, 0, err
	}
	return off, size, nil
}

// readMessage reads the record of a message file and where its message is.
func (s *store) readMessage(id string) (*record, int64, int64, error) {
	f, err := os.Open(s.path("msg", id))
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	br := bufio.NewReaderSize(f, 4096)
	m := make([]byte, len(magic))
	if _, err := io.ReadFull(br, m); err != nil || string(m) != magic {
		return nil, 0, 0, fmt.Errorf("smtpqueue: %s: not a queue file", id)
	}
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull || len(line) > maxRecordLen {
			return nil, 0, 0, fmt.Errorf("smtpqueue: %s: bad record: %v", id, err)
		}
	}
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, 0, 0, fmt.Errorf("smtpqueue: %s: bad record: %w", id, err)
	}
	if rec.ID != id || len(rec.To) == 0 || (rec.RcptOptions != nil && len(rec.RcptOptions) != len(rec.To)) {
		return nil, 0, 0, fmt.Errorf("smtpqueue: %s: inconsistent record", id)
	}
	off := int64(len(magic) + len(line))
	return &rec, off, fi.Size() - off, nil
}

// writeState replaces the state file of id atomically and durably.
func (s *store) writeState(id string, st *state) error {
	if err := s.dropIndex(); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := s.path("tmp", id+".state")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path("state", id)); err != nil {
		return err
	}
	return s.stateSync.sync()
}

func (s *store) readState(id string) (*state, error) {
	b, err := os.ReadFile(s.path("state", id))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// remove deletes a message: its file first, so that a crash in between
// leaves an orphan state file (removed on Open), never a message without
// its state.
func (s *store) remove(id string) error {
	err := os.Remove(s.path("msg", id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(s.path("state", id))
	return s.msgSync.sync()
}

// list returns the IDs of the message files, and removes state files
// without a message.
func (s *store) list() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "msg"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	have := make(map[string]bool, len(ents))
	for _, e := range ents {
		if validID(e.Name()) {
			ids = append(ids, e.Name())
			have[e.Name()] = true
		}
	}
	sts, err := os.ReadDir(filepath.Join(s.dir, "state"))
	if err != nil {
		return nil, err
	}
	for _, e := range sts {
		if !have[e.Name()] {
			os.Remove(filepath.Join(s.dir, "state", e.Name()))
		}
	}
	return ids, nil
}

// groupSync fsyncs a directory on behalf of many callers: a caller
// needs a sync that started after its own rename, and every caller waiting
// when a sync starts is served by it (group commit). With n concurrent
// enqueues the directory is synced about twice, not n times.
type groupSync struct {
	dir string

	mu       sync.Mutex
	cond     *sync.Cond
	started  uint64 // syncs started
	finished uint64 // syncs finished (the highest number)
	running  bool
	errGen   uint64 // the sync that failed last
	err      error
}

func (g *groupSync) sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	// The rename is done: any sync that starts from now on covers it.
	need := g.started + 1
	for g.finished < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := syncDir(g.dir)
		g.mu.Lock()
		g.running = false
		g.finished = n
		if err != nil {
			g.errGen, g.err = n, err
		}
		g.cond.Broadcast()
	}
	if g.err != nil && g.errGen >= need {
		return g.err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
