//go:build !unix

package smtpqueue

import (
	"os"
	"path/filepath"
)

// lockDir opens dir/lock without locking it: this platform has no flock.
// Do not open one queue from two processes.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
}
