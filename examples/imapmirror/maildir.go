package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// maildir is a Maildir (https://cr.yp.to/proto/maildir.html) written by
// the mirror: tmp/, new/ and cur/ under dir. Messages go to tmp/ under a
// unique name, then are renamed into cur/ with their flags in the ":2,"
// info suffix, so a reader never sees a partial file.
type maildir struct {
	dir  string
	host string
	seq  atomic.Uint64
}

func openMaildir(dir string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// "/" and ":" cannot appear in a unique name (the Maildir
	// specification's replacements).
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &maildir{dir: dir, host: host}, nil
}

// uniqueName returns a new name "time.MusecPpidQn.host" for a message.
func (m *maildir) uniqueName() string {
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), m.seq.Add(1), m.host)
}

// infoSuffix maps IMAP system flags to Maildir's info letters, in ASCII
// order as the specification requires. Keywords have no standard letter
// and are not mirrored.
func infoSuffix(flags []imap.Flag) string {
	var letters []byte
	for _, f := range flags {
		switch strings.ToLower(string(f)) {
		case `\draft`:
			letters = append(letters, 'D')
		case `\flagged`:
			letters = append(letters, 'F')
		case `$forwarded`:
			letters = append(letters, 'P')
		case `\answered`:
			letters = append(letters, 'R')
		case `\seen`:
			letters = append(letters, 'S')
		case `\deleted`:
			letters = append(letters, 'T')
		}
	}
	slices.Sort(letters)
	letters = slices.Compact(letters)
	return ":2," + string(letters)
}

// write stores a message read from r under a new unique name in cur/
// and returns the name (without info suffix).
func (m *maildir) write(r io.Reader, flags []imap.Flag) (string, error) {
	name := m.uniqueName()
	tmp := filepath.Join(m.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, m.path(name, flags))
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return name, nil
}

func (m *maildir) path(name string, flags []imap.Flag) string {
	return filepath.Join(m.dir, "cur", name+infoSuffix(flags))
}

// find returns the current path of the message with the unique name.
func (m *maildir) find(name string) (string, error) {
	for _, sub := range []string{"cur", "new"} {
		matches, err := filepath.Glob(filepath.Join(m.dir, sub, globEscape(name)+"*"))
		if err != nil {
			return "", err
		}
		for _, p := range matches {
			base := filepath.Base(p)
			if base == name || strings.HasPrefix(base, name+":") {
				return p, nil
			}
		}
	}
	return "", os.ErrNotExist
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// setFlags renames a message so its info suffix carries flags; it
// reports whether anything changed.
func (m *maildir) setFlags(name string, flags []imap.Flag) (bool, error) {
	old, err := m.find(name)
	if err != nil {
		return false, err
	}
	want := m.path(name, flags)
	if old == want {
		return false, nil
	}
	return true, os.Rename(old, want)
}

// remove deletes a message; a missing file is not an error.
func (m *maildir) remove(name string) error {
	p, err := m.find(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// prune removes every file of tmp/, new/ and cur/ whose unique name is
// not in keep: leftovers of an interrupted run, or of the mailbox before
// its UIDVALIDITY changed. It returns how many it removed.
func (m *maildir) prune(keep map[string]bool) (int, error) {
	n := 0
	for _, sub := range []string{"tmp", "new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(m.dir, sub))
		if err != nil {
			return n, err
		}
		for _, e := range entries {
			name, _, _ := strings.Cut(e.Name(), ":")
			if sub != "tmp" && keep[name] {
				continue
			}
			if err := os.Remove(filepath.Join(m.dir, sub, e.Name())); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// state is what the mirror remembers between runs, kept as JSON in
// stateFile next to tmp/, new/ and cur/.
type state struct {
	Mailbox       string `json:"mailbox"`
	UIDValidity   uint32 `json:"uidvalidity"`
	HighestModSeq uint64 `json:"highestmodseq"`
	// Files maps each mirrored UID to the message's unique name.
	Files map[uint32]string `json:"files"`
}

const stateFile = ".imapmirror.json"

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &state{Files: map[uint32]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("imapmirror: %s: %w", stateFile, err)
	}
	if st.Files == nil {
		st.Files = map[uint32]string{}
	}
	return st, nil
}

// save writes the state atomically (temporary file, then rename).
func (st *state) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp."+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// knownUIDs is the set of mirrored UIDs.
func (st *state) knownUIDs() imap.UIDSet {
	uids := make([]uint32, 0, len(st.Files))
	for uid := range st.Files {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	return imap.UIDSet{NumSet: imap.NumSetOf(uids...).Compact()}
}
