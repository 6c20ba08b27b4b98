package smtpclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyTXT is a dkim.Resolver with one key record.
type keyTXT map[string]string

func (k keyTXT) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if r, ok := k[name]; ok {
		return []string{r}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// A message signed through Submitter.Sign arrives with one
// DKIM-Signature, first, that our verifier accepts; SubmitBuilder and
// Submit both sign.
func TestSubmitterSign(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	dns := keyTXT{"s1._domainkey.shop.example": rec}
	opts := &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Key: key}

	r := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: r}, false)
	ctx := ctxT(t)
	calls := 0
	s := &Submitter{Addr: addr, TLS: TLSNone, Sign: func(ctx context.Context, m Message) (Message, error) {
		calls++
		return dkim.SignStored(m, m.Size(), opts)
	}}
	defer s.Close(ctx)

	_, err = s.SubmitBuilder(ctx, &mime.Builder{
		From:    &mime.Address{Mailbox: "news", Host: "shop.example"},
		To:      []*mime.Address{{Mailbox: "a", Host: "example.org"}},
		Subject: "Your receipt",
		Text:    strings.NewReader("Thank you for your order.\n"),
	})
	require.NoError(t, err)
	msg := "From: news@shop.example\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
	_, err = s.Submit(ctx, plainEnv(), strings.NewReader(msg))
	require.NoError(t, err)
	assert.Equal(t, 2, calls)

	got := r.all()
	require.Len(t, got, 2)
	for _, g := range got {
		// The server puts its Received: field first; the signature
		// follows it.
		_, data, ok := strings.Cut(g.Data, "\r\nDKIM-Signature:")
		require.True(t, ok, g.Data)
		data = "DKIM-Signature:" + data
		assert.Equal(t, 1, strings.Count(data, "DKIM-Signature:"))
		res, err := dkim.Verify(ctx, strings.NewReader(data), &dkim.VerifyOptions{Resolver: dns})
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, dkim.Pass, res[0].Status, "%v", res[0].Err)
		assert.Equal(t, "shop.example", res[0].Signature.Domain)
	}

	// A signing error fails the submission before anything is sent.
	boom := errors.New("no key")
	s2 := &Submitter{Addr: addr, TLS: TLSNone, Sign: func(ctx context.Context, m Message) (Message, error) { return nil, boom }}
	defer s2.Close(ctx)
	_, err = s2.Submit(ctx, plainEnv(), strings.NewReader(msg))
	require.ErrorIs(t, err, boom)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseSign, oe.Phase)
	assert.Len(t, r.all(), 2)
}
