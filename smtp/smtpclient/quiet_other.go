//go:build !unix

package smtpclient

import "net"

// connQuiet cannot peek without blocking here; the NOOP check of a pooled
// connection (Submitter.NoopAfter) still applies.
func connQuiet(net.Conn) bool { return true }
