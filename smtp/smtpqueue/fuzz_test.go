package smtpqueue

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadMessage feeds arbitrary queue files to the reader Open uses:
// it must return an error or a consistent record, never panic, and read at
// most maxRecordLen of a record line.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(magic + `{"id":"0123456789abcdef","arrival":"2026-12-07T12:00:00Z","from":"a@b.test","to":["c@d.test"]}` + "\nFrom: a@b.test\r\n\r\nhi\r\n"))
	f.Add([]byte(magic + `{"id":"0123456789abcdef","to":["c@d.test"],"rcpt":[{},{}]}` + "\n"))
	f.Add([]byte(magic + `{"id":"0123456789abcdef"`))
	f.Add([]byte("posthorn-queue 2\n{}\n"))
	dir := f.TempDir()
	s, err := openStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	const id = "0123456789abcdef"
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "msg", id), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, off, size, err := s.readMessage(id)
		if err != nil {
			return
		}
		if rec.ID != id || len(rec.To) == 0 || off+size != int64(len(data)) || off < int64(len(magic)) {
			t.Fatalf("inconsistent: %+v off %d size %d len %d", rec, off, size, len(data))
		}
	})
}
