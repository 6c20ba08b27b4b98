//go:build !linux

package main

import (
	"errors"
	"os"
)

// isTerminal is false here: without the Linux termios ioctls the
// password is read as a line from standard input (pipe it in).
func isTerminal(*os.File) bool { return false }

func echoOff(*os.File) (func(), error) {
	return nil, errors.New("turning echo off is implemented for Linux only")
}
