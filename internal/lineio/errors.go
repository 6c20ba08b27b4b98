package lineio

import (
	"errors"
	"fmt"
)

// LineTooLongError reports a line longer than the limit. The line has been
// discarded up to and including its end, so the next read starts at the
// next line.
type LineTooLongError struct {
	// Limit is the maximum line length in bytes, not counting the line
	// terminator.
	Limit int
}

// Error describes the error.
func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("lineio: line longer than %d bytes", e.Limit)
}

// BareEOLError reports a CR not followed by LF, or an LF not preceded by CR,
// inside a dot-stuffed body read with [RejectBareEOL]. It is returned only
// after the body has been consumed up to its real end.
type BareEOLError struct {
	// Char is '\r' or '\n'.
	Char byte
	// Offset is the position of the first offending byte, counted in raw
	// (encoded) bytes from the start of the body.
	Offset int64
}

// Error describes the error.
func (e *BareEOLError) Error() string {
	name := "LF"
	if e.Char == '\r' {
		name = "CR"
	}
	return fmt.Sprintf("lineio: bare %s at offset %d of the data", name, e.Offset)
}

// TooLargeError reports a dot-stuffed body larger than the limit. It is
// returned only after the body has been consumed up to its real end.
type TooLargeError struct {
	// Limit is the maximum decoded size in bytes.
	Limit int64
}

// Error describes the error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("lineio: data larger than %d bytes", e.Limit)
}

// errClosed is returned by reads after Close.
var errClosed = errors.New("lineio: read after Close")
