//go:build !unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockData opens dir/lock without locking it: this platform has no
// flock. Do not run two servers on one data directory.
func lockData(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return f, nil
}
