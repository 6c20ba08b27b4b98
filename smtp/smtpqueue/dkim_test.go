package smtpqueue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/posthorn/posthorn/smtp/dkim"
)

type txtMap map[string]string

func (m txtMap) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if v, ok := m[strings.TrimSuffix(name, ".")]; ok {
		return []string{v}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Options.Sign with DKIM: the message arrives signed, and the signature
// verifies.
func TestDKIMSign(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	rec, err := dkim.KeyRecordFor(pub)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		o.Sign = DKIM(&dkim.SignOptions{Domain: "sender.test", Selector: "q1", Key: key})
	})
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	got, err := h.srv("one.test").WaitForMessages(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	v := dkim.NewVerifier(context.Background(), &dkim.VerifyOptions{Resolver: txtMap{"q1._domainkey.sender.test": rec}})
	v.Write(got[0].Raw)
	v.Close()
	res := v.Results()
	if len(res) != 1 || res[0].Status != dkim.Pass {
		t.Fatalf("DKIM results %+v\n%s", res, got[0].Raw)
	}
}

func TestPrefixedReadAt(t *testing.T) {
	p := &prefixed{prefix: []byte("DKIM-Signature: x\r\n"), msg: strings.NewReader(testMsg)}
	want := "DKIM-Signature: x\r\n" + testMsg
	if err := iotest.TestReader(io.NewSectionReader(p, 0, p.Size()), []byte(want)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 7)
	for off := int64(0); off < p.Size(); off++ {
		n, _ := p.ReadAt(b, off)
		if !bytes.Equal(b[:n], []byte(want[off:min(int(off)+7, len(want))])) {
			t.Fatalf("ReadAt(%d) = %q", off, b[:n])
		}
	}
}
