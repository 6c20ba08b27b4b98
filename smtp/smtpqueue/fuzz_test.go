package smtpqueue

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadMessage feeds arbitrary queue files to the reader Open uses:
// it must return an error or a consistent record, never panic, and read at
// most maxRecordLen of a record line.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(magic + `{"id":"0123456789abcdef","arrival":"2026-12-07T12:00:00Z","from":"a@b.test","to":["c@d.test"]}` + "\nFrom: a@b.test\r\n\r\nhi\r\n"))
	f.Add([]byte(magic + `{"id":"0123456789abcdef","to":["c@d.test"],"rcpt":[{},{}]}` + "\n"))
	f.Add([]byte(magic + `{"id":"0123456789abcdef"`))
	f.Add([]byte("posthorn-queue 2\n{}\n"))
	dir := f.TempDir()
	s, err := openStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	const id = "0123456789abcdef"
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "msg", id), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, off, size, err := s.readMessage(id)
		if err != nil {
			return
		}
		if rec.ID != id || len(rec.To) == 0 || off+size != int64(len(data)) || off < int64(len(magic)) {
			t.Fatalf("inconsistent: %+v off %d size %d len %d", rec, off, size, len(data))
		}
	})
}

// FuzzParseSTSPolicy: a policy body from the network never panics, and an
// accepted policy is one of the three modes with a bounded MX list.
func FuzzParseSTSPolicy(f *testing.F) {
	f.Add("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
	f.Add("version: STSv1\nmode: none\nmax_age: 0\n")
	f.Add("version: STSv1\nmode: testing\nmx: *.\nmax_age: 31557600\n")
	f.Add("version:STSv1\nmode:enforce\nmx:\nmax_age:1")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := parseSTSPolicy(body)
		if err != nil {
			return
		}
		if p.mode != "enforce" && p.mode != "testing" && p.mode != "none" || len(p.mx) > 100 {
			t.Fatalf("%+v", p)
		}
		for _, h := range []string{"", ".", "*.", "a.b", "mx.example.com"} {
			p.matches(h)
		}
	})
}

// FuzzParseTLSReport: a TLS-RPT report from anyone (JSON or gzip) never
// panics and is bounded.
func FuzzParseTLSReport(f *testing.F) {
	f.Add([]byte(`{"organization-name":"X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@b","report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-domain":"d"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}`))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))
	f.Add([]byte(`{"report-id":"x","policies":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ParseTLSReport(bytes.NewReader(data))
		if err == nil && (rep.ReportID == "" || len(rep.Policies) == 0) {
			t.Fatalf("accepted %+v", rep)
		}
	})
}

// FuzzParseTLSRPTRecord: a _smtp._tls record from the DNS never panics, and
// yields a bounded list of non-empty URIs.
func FuzzParseTLSRPTRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:a@b.test,https://r.test/x")
	f.Add("v=TLSRPTv1;rua=;rua=,,")
	f.Add("v=TLSRPTv1 ; x=y")
	f.Fuzz(func(t *testing.T, rec string) {
		rua, ok := parseTLSRPTRecord([]string{rec})
		if ok != (len(rua) > 0) || len(rua) > maxRUA {
			t.Fatalf("%q: %q %v", rec, rua, ok)
		}
		for _, u := range rua {
			if u == "" || strings.ContainsAny(u, ";,") {
				t.Fatalf("%q: URI %q", rec, u)
			}
		}
	})
}

// FuzzDecodeIndex: a damaged index never panics and is refused or decodes
// to entries with valid IDs, recipients and a state per recipient.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(indexMagic)) // testdata/fuzz/FuzzDecodeIndex has a whole one
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 && len(b)%2 == 0 {
			// Half the inputs get a correct checksum, so that mutations
			// reach the decoder behind it.
			b = binary.BigEndian.AppendUint32(b[:len(b)-4:len(b)-4], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		m, err := decodeIndex(b)
		if err != nil {
			return
		}
		for id, e := range m {
			if id != e.rec.ID || !validID(id) || len(e.rec.To) == 0 || len(e.st.Rcpts) != len(e.rec.To) {
				t.Fatalf("inconsistent entry %+v", e)
			}
		}
	})
}
