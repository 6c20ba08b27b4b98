package maildir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// checkMapping asserts what the name mapping promises for one name.
func checkMapping(t *testing.T, name string) {
	n, err := checkName(name)
	if err != nil {
		return
	}
	if n == "INBOX" {
		return
	}
	d := dirName(n)
	if !strings.HasPrefix(d, ".") || d == "." || d == ".." || strings.ContainsAny(d, "/\x00") || len(d) > maxDirName || !utf8.ValidString(d) {
		t.Fatalf("%q maps to unsafe directory %q", name, d)
	}
	root := "/srv/mail/alice"
	if p := filepath.Join(root, d); filepath.Dir(p) != root {
		t.Fatalf("%q escapes the user's directory: %q", name, p)
	}
	back, ok := folderName(d)
	if !ok || back != n {
		t.Fatalf("%q -> %q -> %q, %v", n, d, back, ok)
	}
}

// FuzzNameMapping: no mailbox name reaches outside the user's directory
// or shares a directory with another name, and every directory the
// store lists maps back to its name.
func FuzzNameMapping(f *testing.F) {
	for _, s := range []string{"INBOX", "inbox/x", "../x", "/etc", "a/../../b", "a\x00b", ".", "..", "a/./b", "a/../b",
		"~root", "a.b", `a\2eb`, "Ünïcödé", "e\u0301", "&-", "&AAA-", "a//b", "a/", strings.Repeat("x", 300), "Sent/2024.01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkMapping(t, s)
		// A directory found on disk: accepted only if it is the spelling
		// of the name it stands for.
		if name, ok := folderName(s); ok {
			if dirName(name) != s {
				t.Fatalf("directory %q taken for %q, which maps to %q", s, name, dirName(name))
			}
		}
	})
}

// TestNamesAreNotPaths: each hostile name, through CREATE, stays in the
// user's tree and does not clobber another mailbox.
func TestNamesAreNotPaths(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openStore(t, root, nil)
	u, _ := s.User(ctx, "alice", nil)
	if err := u.CreateMailbox(ctx, "Foo", imapserver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"../x", true},      // a level called "..": escaped, inside the tree
		{"a/../../b", true}, // the same, deeper
		{"/etc", false},     // empty first level
		{"a//b", false},     // empty level
		{"a\x00b", false},   // NUL
		{"a\nb", false},     // control character
		{"\xff", false},     // not UTF-8
		{".", true},         // escaped
		{"a/./b", true},     // escaped
		{"~root", true},     // "~" first is escaped
		{"a.b", true},       // "." inside a level is escaped, not a level
		{strings.Repeat("x", 300), false},
		{"foo", false}, // case-folds onto Foo: refused, Foo kept
		{"FOO", false},
		{"e\u0301t\u00e9", true}, // NFC-normalised: é
		{"\u00e9t\u00e9", false}, // the same name in NFC: exists
	} {
		err := u.CreateMailbox(ctx, tc.name, imapserver.CreateOptions{})
		if (err == nil) != tc.ok {
			t.Errorf("CREATE %q: %v (want ok=%v)", tc.name, err, tc.ok)
		}
		if !tc.ok && err != nil && !errors.Is(err, ErrBadName) && !errors.Is(err, imapserver.ErrMailboxExists) {
			t.Errorf("CREATE %q: unexpected error %v", tc.name, err)
		}
	}
	// Nothing was created outside the user's directory.
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "alice" {
		t.Fatalf("store root holds %v", ents)
	}
	userDir := filepath.Join(root, "alice")
	ents, _ = os.ReadDir(userDir)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			if _, ok := folderName(e.Name()); !ok {
				t.Errorf("unexpected directory %q", e.Name())
			}
		}
	}
	// Every created mailbox lists back under its own name and Foo is intact.
	list, _ := u.ListMailboxes(ctx)
	names := map[string]bool{}
	for _, m := range list {
		names[m.Name] = true
	}
	for _, want := range []string{"../x", "a/../../b", ".", "a/./b", "~root", "a.b", "Foo", "\u00e9t\u00e9"} {
		if !names[want] {
			t.Errorf("%q not listed: %v", want, names)
		}
	}
	// A hostile name can be selected, renamed and deleted without
	// touching anything else.
	if err := u.RenameMailbox(ctx, "../x", "../y"); err != nil {
		t.Fatal(err)
	}
	if err := u.DeleteMailbox(ctx, "../y"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Status(ctx, "Foo"); err != nil {
		t.Fatalf("Foo after the hostile names: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", "/etc/passwd", "b/..", "Foo/.."} {
		if _, err := u.OpenMailbox(ctx, bad, true); !errors.Is(err, imapserver.ErrNoSuchMailbox) {
			t.Errorf("SELECT %q: %v", bad, err)
		}
	}
	// User names too are one path element.
	for _, name := range []string{"../bob", "/etc", ".hidden", "a/b", "a\x00"} {
		d, err := userDirName(name)
		if err != nil || strings.ContainsAny(d, "/\x00") || d == "." || d == ".." || strings.HasPrefix(d, ".") {
			t.Errorf("user %q -> %q, %v", name, d, err)
		}
	}
}
