package lineio

import "bytes"

// indexEOL returns the index of the first CR or LF in p, or -1. It uses two
// bytes.IndexByte scans rather than a byte loop: on mail text CR and LF are
// next to each other, so the second scan is short.
func indexEOL(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return bytes.IndexByte(p, '\r')
	}
	if c := bytes.IndexByte(p[:i], '\r'); c >= 0 {
		return c
	}
	return i
}
