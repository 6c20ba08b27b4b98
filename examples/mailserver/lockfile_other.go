//go:build !unix

package main

// lockFile does nothing where there is no flock: do not run two
// account commands at once.
func lockFile(string) (func(), error) { return func() {}, nil }
