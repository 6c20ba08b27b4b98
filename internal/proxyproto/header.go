package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// Command is the command of a PROXY header.
type Command int

const (
	// Proxy says the connection was relayed on behalf of the client whose
	// address the header carries.
	Proxy Command = iota
	// Local says the connection was made by the proxy itself (a health
	// check); the connection's own addresses apply. Version 2 only.
	Local
)

// Header is a parsed PROXY header.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Command is Proxy or Local.
	Command Command
	// Source and Destination are the client's address and the address it
	// connected to: *net.TCPAddr for TCP (and for addresses with an
	// unspecified transport), *net.UDPAddr for datagrams, *net.UnixAddr
	// for AF_UNIX. Both are nil when the header carries no address (LOCAL,
	// UNKNOWN, UNSPEC).
	Source, Destination net.Addr
}

// HeaderError reports a missing or malformed PROXY header.
type HeaderError struct {
	// Reason says what is wrong.
	Reason string
}

// Error describes the error.
func (e *HeaderError) Error() string { return "proxyproto: " + e.Reason }

func herr(format string, args ...any) error {
	return &HeaderError{Reason: fmt.Sprintf(format, args...)}
}

const (
	v1MaxLen = 107 // spec §2.1, CRLF included
	v2HdrLen = 16
)

// v2Sig is the version 2 signature, spec §2.2.
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// ReadHeader reads one PROXY header, version 1 or 2, from br. It reads
// nothing past the header. Any other start of input is a *[HeaderError].
func ReadHeader(br *bufio.Reader) (*Header, error) {
	b, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	switch b[0] {
	case 'P':
		return readV1(br)
	case '\r':
		return readV2(br)
	}
	return nil, herr("no PROXY header")
}

// readV1 reads "PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n" (spec §2.1).
func readV1(br *bufio.Reader) (*Header, error) {
	var line []byte
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if i+1 > v1MaxLen {
				return nil, herr("version 1 header longer than %d bytes", v1MaxLen)
			}
			line = b[:i+1]
			break
		}
		if len(b) >= v1MaxLen {
			return nil, herr("version 1 header longer than %d bytes", v1MaxLen)
		}
		// Wait for one more byte only: the client may be waiting for
		// our greeting right after the header.
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, eof(err)
		}
	}
	h, err := parseV1(line)
	if err != nil {
		return nil, err
	}
	br.Discard(len(line)) //nolint:errcheck // buffered
	return h, nil
}

func parseV1(line []byte) (*Header, error) {
	rest, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return nil, herr("version 1 header does not end in CRLF")
	}
	rest, ok = bytes.CutPrefix(rest, []byte("PROXY "))
	if !ok {
		return nil, herr("no PROXY header")
	}
	h := &Header{Version: 1, Command: Proxy}
	if bytes.HasPrefix(rest, []byte("UNKNOWN")) && (len(rest) == 7 || rest[7] == ' ') {
		// Spec §2.1: ignore everything after UNKNOWN up to CRLF.
		return h, nil
	}
	f := bytes.Split(rest, []byte(" "))
	if len(f) != 5 {
		return nil, herr("version 1 header needs 5 fields after PROXY, has %d", len(f))
	}
	var want4 bool
	switch string(f[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return nil, herr("unknown version 1 protocol %q", f[0])
	}
	var ap [2]netip.AddrPort
	for i := range 2 {
		a, err := netip.ParseAddr(string(f[1+i]))
		if err != nil || a.Zone() != "" || a.Is4() != want4 {
			return nil, herr("bad %s address %q", f[0], f[1+i])
		}
		p, err := parsePort(f[3+i])
		if err != nil {
			return nil, err
		}
		ap[i] = netip.AddrPortFrom(a, p)
	}
	h.Source, h.Destination = net.TCPAddrFromAddrPort(ap[0]), net.TCPAddrFromAddrPort(ap[1])
	return h, nil
}

func parsePort(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, herr("bad port %q", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, herr("bad port %q", b)
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return 0, herr("bad port %q", b)
	}
	return uint16(n), nil
}

// Address block sizes, spec §2.2.
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	transUnspec = 0x0
	transStream = 0x1
	transDgram  = 0x2

	lenInet  = 12
	lenInet6 = 36
	lenUnix  = 216
)

// readV2 reads a binary header (spec §2.2).
func readV2(br *bufio.Reader) (*Header, error) {
	b, err := br.Peek(v2HdrLen)
	if err != nil {
		return nil, eof(err)
	}
	if !bytes.Equal(b[:12], v2Sig) {
		return nil, herr("no PROXY header")
	}
	verCmd, famTrans := b[12], b[13]
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return nil, herr("version 2 header with version %d", verCmd>>4)
	}
	h := &Header{Version: 2}
	switch verCmd & 0xf {
	case 0x0:
		h.Command = Local
	case 0x1:
		h.Command = Proxy
	default:
		return nil, herr("unknown version 2 command %#x", verCmd&0xf)
	}
	fam, trans := famTrans>>4, famTrans&0xf
	if fam > famUnix || trans > transDgram {
		return nil, herr("unknown version 2 address family %#x", famTrans)
	}
	need := 0
	switch fam {
	case famInet:
		need = lenInet
	case famInet6:
		need = lenInet6
	case famUnix:
		need = lenUnix
	}
	if h.Command == Proxy && n < need {
		return nil, herr("version 2 address block of %d bytes, family needs %d", n, need)
	}
	br.Discard(v2HdrLen) //nolint:errcheck // peeked
	var addrs [lenUnix]byte
	block := addrs[:0]
	if h.Command == Proxy && fam != famUnspec {
		block = addrs[:need]
	}
	if _, err := io.ReadFull(br, block); err != nil {
		return nil, eof(err)
	}
	// TLVs and anything else in the block: skipped, never stored.
	if _, err := br.Discard(n - len(block)); err != nil {
		return nil, eof(err)
	}
	if h.Command == Local || fam == famUnspec {
		return h, nil
	}
	switch fam {
	case famInet, famInet6:
		l := 4
		if fam == famInet6 {
			l = 16
		}
		src, _ := netip.AddrFromSlice(block[:l])
		dst, _ := netip.AddrFromSlice(block[l : 2*l])
		sp := binary.BigEndian.Uint16(block[2*l:])
		dp := binary.BigEndian.Uint16(block[2*l+2:])
		s, d := netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
		if trans == transDgram {
			h.Source, h.Destination = net.UDPAddrFromAddrPort(s), net.UDPAddrFromAddrPort(d)
		} else {
			h.Source, h.Destination = net.TCPAddrFromAddrPort(s), net.TCPAddrFromAddrPort(d)
		}
	case famUnix:
		netw := "unix"
		if trans == transDgram {
			netw = "unixgram"
		}
		h.Source = &net.UnixAddr{Name: cstring(block[:108]), Net: netw}
		h.Destination = &net.UnixAddr{Name: cstring(block[108:216]), Net: netw}
	}
	return h, nil
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// eof turns io.EOF inside a header into io.ErrUnexpectedEOF.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
