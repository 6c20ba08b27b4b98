package maildir

import (
	"io"
	"io/fs"
	"os"
	"time"
)

// fileSystem is every file-system operation the store performs. All
// store I/O goes through it, so that a test can put a layer in between
// that simulates a power cut (powercut_test.go): there, what was not
// synced is lost and unsynced renames may be undone in any order.
// Paths are slash-separated and absolute (built with filepath.Join).
type fileSystem interface {
	// OpenFile opens a file as os.OpenFile does.
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	// ReadFile returns the whole content of a file.
	ReadFile(name string) ([]byte, error)
	// Rename renames a file or directory atomically (rename(2)).
	Rename(oldName, newName string) error
	// Link creates newName as a hard link to oldName; it fails if
	// newName exists.
	Link(oldName, newName string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a tree.
	RemoveAll(name string) error
	// Mkdir creates a directory.
	Mkdir(name string, perm fs.FileMode) error
	// ReadDir lists a directory.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat returns a file's metadata.
	Stat(name string) (fs.FileInfo, error)
	// Chtimes sets a file's modification time (a message's internal
	// date, which Dovecot reads from there too).
	Chtimes(name string, mtime time.Time) error
	// SyncDir makes the entries of a directory (creations, renames,
	// removals) durable.
	SyncDir(name string) error
}

// file is an open file.
type file interface {
	io.Reader
	io.ReaderAt
	io.Writer
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) ReadFile(name string) ([]byte, error)      { return os.ReadFile(name) }
func (osFS) Rename(o, n string) error                  { return os.Rename(o, n) }
func (osFS) Link(o, n string) error                    { return os.Link(o, n) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }
func (osFS) RemoveAll(name string) error               { return os.RemoveAll(name) }
func (osFS) Mkdir(name string, perm fs.FileMode) error { return os.Mkdir(name, perm) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(name)
}
func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osFS) Chtimes(name string, mtime time.Time) error {
	return os.Chtimes(name, mtime, mtime)
}

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
