package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
)

// v2 builds a binary header: signature, ver/cmd, fam/trans, then the block.
func v2(verCmd, famTrans byte, block []byte) []byte {
	b := append([]byte(nil), v2Sig...)
	b = append(b, verCmd, famTrans)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return append(b, block...)
}

func inet4Block(tlv ...byte) []byte {
	b := []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0, 25}
	return append(b, tlv...)
}

func inet6Block() []byte {
	b := make([]byte, 36)
	b[0], b[1], b[15] = 0x20, 0x01, 1   // 2001::1
	b[16], b[17], b[31] = 0x20, 0x01, 2 // 2001::2
	binary.BigEndian.PutUint16(b[32:], 40000)
	binary.BigEndian.PutUint16(b[34:], 993)
	return b
}

func unixBlock() []byte {
	b := make([]byte, 216)
	copy(b, "/run/client.sock")
	copy(b[108:], "/run/server.sock")
	return b
}

func TestReadHeader(t *testing.T) {
	const after = "EHLO x\r\n"
	tests := []struct {
		name     string
		in       []byte
		version  int
		cmd      Command
		src, dst string // "" = no address
		bad      bool
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n"), 1, Proxy, "192.0.2.1:56324", "198.51.100.7:25", false},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 993\r\n"), 1, Proxy, "[2001:db8::1]:40000", "[2001:db8::2]:993", false},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), 1, Proxy, "", "", false},
		{"v1 UNKNOWN with junk", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 1, Proxy, "", "", false},
		{"v1 longest addresses", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 1, Proxy, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", false},
		{"v1 port 0", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 0 25\r\n"), 1, Proxy, "192.0.2.1:0", "198.51.100.7:25", false},
		{"v1 LF only", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\n"), 0, 0, "", "", true},
		{"v1 lower case", []byte("proxy TCP4 192.0.2.1 198.51.100.7 56324 25\r\n"), 0, 0, "", "", true},
		{"v1 TCP4 with v6", []byte("PROXY TCP4 2001:db8::1 198.51.100.7 56324 25\r\n"), 0, 0, "", "", true},
		{"v1 TCP6 with v4", []byte("PROXY TCP6 192.0.2.1 198.51.100.7 56324 25\r\n"), 0, 0, "", "", true},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n"), 0, 0, "", "", true},
		{"v1 port too big", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 65536 25\r\n"), 0, 0, "", "", true},
		{"v1 port leading zero", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 025 25\r\n"), 0, 0, "", "", true},
		{"v1 port sign", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 +25 25\r\n"), 0, 0, "", "", true},
		{"v1 extra field", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 25 x\r\n"), 0, 0, "", "", true},
		{"v1 double space", []byte("PROXY TCP4  192.0.2.1 198.51.100.7 1 25\r\n"), 0, 0, "", "", true},
		{"v1 UDP4", []byte("PROXY UDP4 192.0.2.1 198.51.100.7 1 25\r\n"), 0, 0, "", "", true},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), 0, 0, "", "", true},
		{"v1 no CRLF within 107", []byte("PROXY UNKNOWN " + strings.Repeat("x", 200)), 0, 0, "", "", true},
		{"not a header", []byte("EHLO client\r\n"), 0, 0, "", "", true},
		{"v2 INET", v2(0x21, 0x11, inet4Block()), 2, Proxy, "192.0.2.1:56324", "198.51.100.7:25", false},
		{"v2 INET with TLVs", v2(0x21, 0x11, inet4Block(0x01, 0, 2, 'h', '2', 0x04, 0, 0)), 2, Proxy, "192.0.2.1:56324", "198.51.100.7:25", false},
		{"v2 INET DGRAM", v2(0x21, 0x12, inet4Block()), 2, Proxy, "192.0.2.1:56324", "198.51.100.7:25", false},
		{"v2 INET6", v2(0x21, 0x21, inet6Block()), 2, Proxy, "[2001::1]:40000", "[2001::2]:993", false},
		{"v2 UNIX", v2(0x21, 0x31, unixBlock()), 2, Proxy, "/run/client.sock", "/run/server.sock", false},
		{"v2 LOCAL", v2(0x20, 0x00, nil), 2, Local, "", "", false},
		{"v2 LOCAL with block", v2(0x20, 0x11, inet4Block()), 2, Local, "", "", false},
		{"v2 UNSPEC", v2(0x21, 0x00, []byte{1, 2, 3}), 2, Proxy, "", "", false},
		{"v2 version 1", v2(0x11, 0x11, inet4Block()), 0, 0, "", "", true},
		{"v2 command 2", v2(0x22, 0x11, inet4Block()), 0, 0, "", "", true},
		{"v2 family 4", v2(0x21, 0x41, inet4Block()), 0, 0, "", "", true},
		{"v2 transport 3", v2(0x21, 0x13, inet4Block()), 0, 0, "", "", true},
		{"v2 INET short", v2(0x21, 0x11, inet4Block()[:11]), 0, 0, "", "", true},
		{"v2 INET6 short", v2(0x21, 0x21, inet6Block()[:35]), 0, 0, "", "", true},
		{"v2 bad signature", append([]byte("\r\n\r\n\x00\r\nQUIT\r"), 0x21, 0x11, 0, 0), 0, 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(append(tt.in, after...))), 256)
			h, err := ReadHeader(br)
			if tt.bad {
				var he *HeaderError
				if !errors.As(err, &he) {
					t.Fatalf("ReadHeader = %+v, %v; want *HeaderError", h, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != tt.version || h.Command != tt.cmd {
				t.Fatalf("version %d command %d", h.Version, h.Command)
			}
			if got := addrString(h.Source); got != tt.src {
				t.Errorf("Source = %q, want %q", got, tt.src)
			}
			if got := addrString(h.Destination); got != tt.dst {
				t.Errorf("Destination = %q, want %q", got, tt.dst)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != after {
				t.Fatalf("after the header %q, want %q", rest, after)
			}
		})
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func TestReadHeaderTruncated(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("PROXY TCP4 1.2.3.4"),
		v2(0x21, 0x11, inet4Block())[:20],
		v2(0x21, 0x11, inet4Block(0x04, 0, 0))[:29],
		v2Sig[:5],
	} {
		_, err := ReadHeader(bufio.NewReader(bytes.NewReader(in)))
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%q: %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
	if _, err := ReadHeader(bufio.NewReader(bytes.NewReader(nil))); err != io.EOF {
		t.Errorf("empty: %v, want io.EOF", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	tcp := func(s string) *net.TCPAddr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	udp := func(s string) *net.UDPAddr { a, _ := net.ResolveUDPAddr("udp", s); return a }
	for _, h := range []*Header{
		{Version: 1, Command: Proxy, Source: tcp("192.0.2.1:1"), Destination: tcp("192.0.2.2:25")},
		{Version: 1, Command: Proxy, Source: tcp("[2001:db8::1]:1"), Destination: tcp("[2001:db8::2]:25")},
		{Version: 1, Command: Proxy},
		{Version: 2, Command: Proxy, Source: tcp("192.0.2.1:1"), Destination: tcp("192.0.2.2:25")},
		{Version: 2, Command: Proxy, Source: tcp("[2001:db8::1]:1"), Destination: tcp("[2001:db8::2]:25")},
		{Version: 2, Command: Proxy, Source: udp("192.0.2.1:1"), Destination: udp("192.0.2.2:53")},
		{Version: 2, Command: Proxy, Source: &net.UnixAddr{Name: "/a", Net: "unix"}, Destination: &net.UnixAddr{Name: "/b", Net: "unix"}},
		{Version: 2, Command: Local},
		{Version: 2, Command: Proxy},
		// Mixed families go out as IPv6 with the IPv4 one mapped.
		{Version: 2, Command: Proxy, Source: tcp("192.0.2.1:1"), Destination: tcp("[2001:db8::2]:25")},
		{Version: 1, Command: Proxy, Source: tcp("[2001:db8::1]:1"), Destination: tcp("192.0.2.2:25")},
	} {
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		got, err := ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got.Version != h.Version || got.Command != h.Command || addrString(got.Source) != addrString(h.Source) || addrString(got.Destination) != addrString(h.Destination) {
			t.Fatalf("round trip %+v -> %q -> %+v", h, b, got)
		}
	}
	for _, h := range []*Header{
		{Version: 3},
		{Version: 1, Command: Local},
		{Version: 1, Command: Proxy, Source: &net.UnixAddr{Name: "/a"}, Destination: &net.UnixAddr{Name: "/b"}},
	} {
		if _, err := h.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) succeeded", h)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, s := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\nEHLO"),
		[]byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 993\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
		v2(0x21, 0x11, inet4Block()),
		v2(0x21, 0x11, inet4Block(0x01, 0, 2, 'h', '2')),
		v2(0x21, 0x21, inet6Block()),
		v2(0x21, 0x31, unixBlock()),
		v2(0x20, 0x00, nil),
		v2(0x21, 0x11, inet4Block()[:5]),
		[]byte("\r\n\r\n\x00\r\nQUIT\n!\x11\xff\xff"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		br := bufio.NewReaderSize(r, 256)
		h, err := ReadHeader(br)
		if err != nil {
			return
		}
		used := len(in) - r.Len() - br.Buffered()
		switch h.Version {
		case 1:
			if used > v1MaxLen {
				t.Fatalf("v1 header of %d bytes accepted", used)
			}
		case 2:
			if used != v2HdrLen+int(binary.BigEndian.Uint16(in[14:16])) {
				t.Fatalf("v2 consumed %d bytes, header says %d", used, binary.BigEndian.Uint16(in[14:16]))
			}
		default:
			t.Fatalf("version %d", h.Version)
		}
		if (h.Source == nil) != (h.Destination == nil) {
			t.Fatalf("one address only: %+v", h)
		}
		// What we parse, we can write and parse again the same.
		if h.Version == 1 || h.Source != nil {
			b, err := h.Marshal()
			if err != nil {
				if _, unix := h.Source.(*net.UnixAddr); unix {
					return // names with bytes the fixed block cannot hold
				}
				t.Fatalf("Marshal(%+v): %v", h, err)
			}
			h2, err := ReadHeader(bufio.NewReader(bytes.NewReader(b)))
			if err != nil || addrString(h2.Source) != addrString(h.Source) || addrString(h2.Destination) != addrString(h.Destination) {
				t.Fatalf("re-read %q: %+v %v", b, h2, err)
			}
		}
	})
}

func BenchmarkReadHeader(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"v1", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n")},
		{"v2", v2(0x21, 0x11, inet4Block(0x01, 0, 2, 'h', '2'))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bytes.NewReader(bc.in)
			br := bufio.NewReaderSize(r, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				r.Reset(bc.in)
				br.Reset(r)
				if _, err := ReadHeader(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
