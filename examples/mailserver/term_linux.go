//go:build linux

package main

import (
	"os"
	"syscall"
	"unsafe"
)

// isTerminal reports whether f is a terminal (TCGETS succeeds).
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	return ioctl(f.Fd(), syscall.TCGETS, &t) == nil
}

// echoOff turns the terminal's echo off (termios ECHO; the line
// discipline keeps ICANON, so the kernel still edits the line) and
// returns the function that restores the old settings.
func echoOff(f *os.File) (restore func(), err error) {
	var old syscall.Termios
	if err := ioctl(f.Fd(), syscall.TCGETS, &old); err != nil {
		return nil, err
	}
	t := old
	t.Lflag &^= syscall.ECHO
	t.Lflag |= syscall.ICANON
	if err := ioctl(f.Fd(), syscall.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { ioctl(f.Fd(), syscall.TCSETS, &old) }, nil //nolint:errcheck
}

func ioctl(fd uintptr, req uint, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}
