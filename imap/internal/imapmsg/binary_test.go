package imapmsg

import (
	"bytes"
	"testing"

	"github.com/posthorn/posthorn/mime"
)

// A binary APPEND's message is stored as sent unless a part holds NUL,
// which IMAP cannot send in BODY[]: that part becomes base64, and
// BINARY[] still returns its octets (RFC 3516 §4.4; imaptest's
// append-binary).
func TestEncodeNULParts(t *testing.T) {
	body := "\x00-\xe4\n\r\n\n"
	plain := "Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n-\xe4\n\r\n\n"
	if got := EncodeNULParts([]byte(plain)); string(got) != plain {
		t.Errorf("without NUL: %q", got)
	}
	for _, raw := range []string{
		"Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n" + body,
		"Subject: m\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + body + "\r\n--x--\r\n",
	} {
		enc := EncodeNULParts([]byte(raw))
		if bytes.IndexByte(enc, 0) >= 0 {
			t.Fatalf("NUL left in %q", enc)
		}
		m, err := Parse(bytes.NewReader(enc), int64(len(enc)), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		part := "BINARY[1]"
		if bytes.Contains(enc, []byte("multipart")) {
			part = "BINARY[2]"
			if got, _ := section(t, m, "BINARY[1]"); got != "hello" {
				t.Errorf("the part without NUL changed: %q", got)
			}
		}
		if got, err := section(t, m, part); err != nil || got != body {
			t.Errorf("%s = %q, %v; want %q\n%s", part, got, err, body, enc)
		}
	}
}

// EncodeNULParts never panics, keeps data without NUL byte for byte, and
// leaves no NUL in a part it re-encoded.
func FuzzEncodeNULParts(f *testing.F) {
	f.Add([]byte("Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\n\r\n\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\x00b\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: c\r\n\r\n\x00\r\n--x--\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\n\r\nAA\x00=="))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := EncodeNULParts(data)
		if bytes.IndexByte(data, 0) < 0 && !bytes.Equal(out, data) {
			t.Fatalf("changed data without NUL: %q -> %q", data, out)
		}
		if !bytes.Equal(out, data) {
			if _, err := Parse(bytes.NewReader(out), int64(len(out)), mime.Limits{}); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		}
	})
}
