//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockData takes an exclusive lock on dir/lock, held until the file is
// closed or the process dies. A second server on the same data directory
// would repair the first one's Maildir as if after a crash (removing
// files of deliveries in flight), so it stops here instead.
func lockData(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another mailserver (or use -data)", dir)
		}
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return f, nil
}
