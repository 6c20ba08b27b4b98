package maildir

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// pcFS is an in-memory file system that can lose power. Data written to
// a file is durable once the file is synced; a name (create, rename,
// link, remove, mkdir) once its directory is synced. At Crash every
// unsynced write is lost and the unsynced name changes are applied in a
// random subset and a random order (each atomically, as a journalled
// file system does), so a store that forgets an fsync, or relies on the
// order of renames it did not sync, loses data here.
type pcFS struct {
	mu      sync.Mutex
	cur     map[string]*pcInode // the namespace as the running program sees it
	dur     map[string]*pcInode // what survives a crash for sure
	pending []pcOp
	clock   int64
	dead    bool
	rng     *rand.Rand
}

type pcInode struct {
	dir     bool
	data    []byte
	durable []byte
	mtime   time.Time
}

type pcOp struct {
	kind byte // 'c' create/mkdir, 'r' rename, 'l' link, 'd' remove
	a, b string
	ino  *pcInode
}

var errPowerCut = errors.New("pcfs: the power is off")

func newPCFS(seed uint64) *pcFS {
	f := &pcFS{cur: map[string]*pcInode{}, dur: map[string]*pcInode{}, rng: rand.New(rand.NewPCG(seed, 1))}
	root := &pcInode{dir: true}
	f.cur["/"], f.dur["/"] = root, root
	return f
}

func (f *pcFS) tick() time.Time {
	f.clock++
	return time.Unix(1700000000, f.clock)
}

func perr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// touch marks a directory changed (its mtime, which the store watches).
func (f *pcFS) touch(dir string) {
	if d := f.cur[dir]; d != nil {
		d.mtime = f.tick()
	}
}

func (f *pcFS) check(name string) error {
	if f.dead {
		return perr("op", name, errPowerCut)
	}
	return nil
}

func (f *pcFS) parentOK(name string) bool {
	d := f.cur[path.Dir(name)]
	return d != nil && d.dir
}

func (f *pcFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return nil, err
	}
	ino := f.cur[name]
	if ino == nil {
		if flag&os.O_CREATE == 0 {
			return nil, perr("open", name, fs.ErrNotExist)
		}
		if !f.parentOK(name) {
			return nil, perr("open", name, fs.ErrNotExist)
		}
		ino = &pcInode{mtime: f.tick()}
		f.cur[name] = ino
		f.pending = append(f.pending, pcOp{kind: 'c', a: name, ino: ino})
		f.touch(path.Dir(name))
	} else if flag&os.O_EXCL != 0 {
		return nil, perr("open", name, fs.ErrExist)
	}
	if ino.dir {
		return nil, perr("open", name, errors.New("is a directory"))
	}
	if flag&os.O_TRUNC != 0 {
		ino.data = nil
	}
	return &pcFile{fs: f, ino: ino, name: name, append: flag&os.O_APPEND != 0}, nil
}

func (f *pcFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return nil, err
	}
	ino := f.cur[name]
	if ino == nil || ino.dir {
		return nil, perr("read", name, fs.ErrNotExist)
	}
	return append([]byte(nil), ino.data...), nil
}

func (f *pcFS) Rename(a, b string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(a); err != nil {
		return err
	}
	ino := f.cur[a]
	if ino == nil || !f.parentOK(b) {
		return perr("rename", a, fs.ErrNotExist)
	}
	if ino.dir {
		// Move the subtree (names below a are durable as they are).
		for p, x := range f.cur {
			if strings.HasPrefix(p, a+"/") {
				delete(f.cur, p)
				f.cur[b+p[len(a):]] = x
			}
		}
	}
	delete(f.cur, a)
	f.cur[b] = ino
	f.pending = append(f.pending, pcOp{kind: 'r', a: a, b: b, ino: ino})
	f.touch(path.Dir(a))
	f.touch(path.Dir(b))
	return nil
}

func (f *pcFS) Link(a, b string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(a); err != nil {
		return err
	}
	ino := f.cur[a]
	if ino == nil || ino.dir || !f.parentOK(b) {
		return perr("link", a, fs.ErrNotExist)
	}
	if f.cur[b] != nil {
		return perr("link", b, fs.ErrExist)
	}
	f.cur[b] = ino
	f.pending = append(f.pending, pcOp{kind: 'l', a: a, b: b, ino: ino})
	f.touch(path.Dir(b))
	return nil
}

func (f *pcFS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return err
	}
	if f.cur[name] == nil {
		return perr("remove", name, fs.ErrNotExist)
	}
	delete(f.cur, name)
	f.pending = append(f.pending, pcOp{kind: 'd', a: name})
	f.touch(path.Dir(name))
	return nil
}

func (f *pcFS) RemoveAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return err
	}
	for p := range f.cur {
		if p == name || strings.HasPrefix(p, name+"/") {
			delete(f.cur, p)
		}
	}
	f.pending = append(f.pending, pcOp{kind: 'd', a: name})
	f.touch(path.Dir(name))
	return nil
}

func (f *pcFS) Mkdir(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return err
	}
	if f.cur[name] != nil {
		return perr("mkdir", name, fs.ErrExist)
	}
	if !f.parentOK(name) {
		return perr("mkdir", name, fs.ErrNotExist)
	}
	ino := &pcInode{dir: true, mtime: f.tick()}
	f.cur[name] = ino
	f.pending = append(f.pending, pcOp{kind: 'c', a: name, ino: ino})
	f.touch(path.Dir(name))
	return nil
}

// pcDirEntry is a directory entry as it was when listed (f.mu held).
type pcDirEntry struct {
	name  string
	dir   bool
	size  int64
	mtime time.Time
}

func pcEntry(name string, ino *pcInode) pcDirEntry {
	return pcDirEntry{name, ino.dir, int64(len(ino.data)), ino.mtime}
}

func (e pcDirEntry) Name() string { return e.name }
func (e pcDirEntry) IsDir() bool  { return e.dir }
func (e pcDirEntry) Type() fs.FileMode {
	if e.dir {
		return fs.ModeDir
	}
	return 0
}
func (e pcDirEntry) Info() (fs.FileInfo, error) { return pcInfo(e), nil }

type pcInfo pcDirEntry

func (i pcInfo) Name() string       { return i.name }
func (i pcInfo) Size() int64        { return i.size }
func (i pcInfo) Mode() fs.FileMode  { return pcDirEntry(i).Type() | 0o600 }
func (i pcInfo) ModTime() time.Time { return i.mtime }
func (i pcInfo) IsDir() bool        { return i.dir }
func (i pcInfo) Sys() any           { return nil }

func (f *pcFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return nil, err
	}
	if d := f.cur[name]; d == nil || !d.dir {
		return nil, perr("readdir", name, fs.ErrNotExist)
	}
	var out []fs.DirEntry
	for p, ino := range f.cur {
		if p != "/" && path.Dir(p) == name {
			out = append(out, pcEntry(path.Base(p), ino))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (f *pcFS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return nil, err
	}
	ino := f.cur[name]
	if ino == nil {
		return nil, perr("stat", name, fs.ErrNotExist)
	}
	return pcInfo(pcEntry(path.Base(name), ino)), nil
}

func (f *pcFS) Chtimes(name string, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return err
	}
	ino := f.cur[name]
	if ino == nil {
		return perr("chtimes", name, fs.ErrNotExist)
	}
	ino.mtime = mtime
	return nil
}

// affects reports whether op changes an entry of directory dir.
func (op pcOp) affects(dir string) bool {
	return path.Dir(op.a) == dir || (op.b != "" && path.Dir(op.b) == dir && op.kind != 'd')
}

// apply applies op to namespace ns, as a journal replays it. With
// strict, a rename or link applies only if its source is there: the
// renames of one file persist in order, those of different files in
// any order.
func (op pcOp) apply(ns map[string]*pcInode, strict bool) {
	if strict && (op.kind == 'r' || op.kind == 'l') && ns[op.a] != op.ino {
		return
	}
	switch op.kind {
	case 'c':
		ns[op.a] = op.ino
	case 'l':
		ns[op.b] = op.ino
	case 'r':
		if ns[op.a] == op.ino {
			delete(ns, op.a)
		}
		if op.ino.dir {
			for p, x := range ns {
				if strings.HasPrefix(p, op.a+"/") {
					delete(ns, p)
					ns[op.b+p[len(op.a):]] = x
				}
			}
		}
		ns[op.b] = op.ino
	case 'd':
		for p := range ns {
			if p == op.a || strings.HasPrefix(p, op.a+"/") {
				delete(ns, p)
			}
		}
	}
}

func (f *pcFS) SyncDir(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(name); err != nil {
		return err
	}
	kept := f.pending[:0]
	for _, op := range f.pending {
		if op.affects(name) {
			op.apply(f.dur, false)
		} else {
			kept = append(kept, op)
		}
	}
	f.pending = kept
	return nil
}

// Crash cuts the power: the running program's file system fails from now
// on, and the returned one is what a reboot finds.
func (f *pcFS) Crash() *pcFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = true
	ns := make(map[string]*pcInode, len(f.dur))
	for p, ino := range f.dur {
		ns[p] = ino
	}
	// Some unsynced name changes made it to disk, in any order.
	ops := append([]pcOp(nil), f.pending...)
	f.rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	for _, op := range ops {
		if f.rng.IntN(2) == 0 {
			op.apply(ns, true)
		}
	}
	// A name whose directory is gone is gone.
	for changed := true; changed; {
		changed = false
		for p := range ns {
			if p != "/" && ns[path.Dir(p)] == nil {
				delete(ns, p)
				changed = true
			}
		}
	}
	nf := &pcFS{cur: map[string]*pcInode{}, dur: map[string]*pcInode{}, rng: f.rng, clock: f.clock}
	inodes := map[*pcInode]*pcInode{}
	for p, ino := range ns {
		n := inodes[ino]
		if n == nil {
			// Unsynced writes are lost.
			n = &pcInode{dir: ino.dir, data: append([]byte(nil), ino.durable...), mtime: ino.mtime}
			n.durable = n.data
			inodes[ino] = n
		}
		nf.cur[p], nf.dur[p] = n, n
	}
	return nf
}

type pcFile struct {
	fs     *pcFS
	ino    *pcInode
	name   string
	off    int64
	append bool
}

func (h *pcFile) Read(p []byte) (int, error) {
	n, err := h.ReadAt(p, h.off)
	h.off += int64(n)
	return n, err
}

func (h *pcFile) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.dead {
		return 0, errPowerCut
	}
	if off >= int64(len(h.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *pcFile) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.dead {
		return 0, errPowerCut
	}
	if h.append {
		h.off = int64(len(h.ino.data))
	}
	if end := h.off + int64(len(p)); end > int64(len(h.ino.data)) {
		h.ino.data = append(h.ino.data, make([]byte, end-int64(len(h.ino.data)))...)
	}
	copy(h.ino.data[h.off:], p)
	h.off += int64(len(p))
	h.ino.mtime = h.fs.tick()
	return len(p), nil
}

func (h *pcFile) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.dead {
		return errPowerCut
	}
	h.ino.durable = append([]byte(nil), h.ino.data...)
	return nil
}

func (h *pcFile) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.dead {
		return errPowerCut
	}
	if size < int64(len(h.ino.data)) {
		h.ino.data = h.ino.data[:size]
	}
	return nil
}

func (h *pcFile) Stat() (fs.FileInfo, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	return pcInfo(pcEntry(path.Base(h.name), h.ino)), nil
}

func (h *pcFile) Close() error { return nil }
