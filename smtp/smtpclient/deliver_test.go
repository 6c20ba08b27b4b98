package smtpclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeResolver answers MX queries from a table; missing names are
// NXDOMAIN.
type fakeResolver map[string][]*net.MX

func (f fakeResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx, ok := f[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	if mx == nil {
		return nil, &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	return mx, nil
}

func TestDeliver(t *testing.T) {
	tc := testCert(t)
	rec := &recorder{rcptErr: map[string]error{
		"busy@example.org": smtp.NewError(451, smtp.EnhancedCode{4, 3, 0}, "try later"),
		"gone@example.org": smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "no such user"),
	}}
	addr := serve(t, &smtpserver.Server{Backend: rec, TLSConfig: tc.ServerConfig()}, false)
	_, port, _ := net.SplitHostPort(addr)
	res := fakeResolver{
		// The preferred host refuses connections: fall back (§5.1).
		"example.org":        {{Host: "127.0.0.1.", Pref: 20}, {Host: "127.0.0.2.", Pref: 10}},
		"xn--mller-kva.test": {{Host: "127.0.0.1.", Pref: 10}},
		"nomail.test":        {{Host: ".", Pref: 0}},
		"broken.test":        nil,
	}
	ctx := ctxT(t)
	rcpts := []string{"a@example.org", "busy@example.org", "gone@example.org", "x@müller.test", "y@nomail.test", "z@broken.test", "bad address"}
	results := Deliver(ctx, "sender@origin.test", rcpts, strings.NewReader(plainMsg), &DeliverOptions{Resolver: res, Port: port, Options: Options{LocalName: "origin.test"}})
	require.Len(t, results, len(rcpts))
	for i, r := range results {
		assert.Equal(t, rcpts[i], r.Recipient)
	}
	assert.NoError(t, results[0].Err)
	assert.True(t, results[1].Temporary())
	assert.True(t, results[2].Permanent())
	assert.NoError(t, results[3].Err)
	assert.ErrorIs(t, results[4].Err, ErrNullMX)
	assert.True(t, results[4].Permanent())
	assert.True(t, results[5].Temporary(), "%v", results[5].Err)
	assert.True(t, results[6].Permanent())
	var se *smtp.Error
	assert.True(t, errors.As(results[2].Err, &se) && se.Code == 550)

	msgs := rec.all()
	require.Len(t, msgs, 2)
	// Opportunistic STARTTLS was used; the IDN domain went as A-label.
	assert.Contains(t, msgs[0].Data, "with ESMTPS")
	assert.Equal(t, []string{"x@xn--mller-kva.test"}, msgs[1].To)
	assert.False(t, msgs[1].Opts.SMTPUTF8)
}

func TestMXOrder(t *testing.T) {
	res := fakeResolver{"d.test": {{Host: "c.", Pref: 30}, {Host: "a1.", Pref: 10}, {Host: "a2.", Pref: 10}, {Host: "b.", Pref: 20}}}
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		res["d.test"] = []*net.MX{{Host: "c.", Pref: 30}, {Host: "a1.", Pref: 10}, {Host: "a2.", Pref: 10}, {Host: "b.", Pref: 20}}
		hosts, err := mxHosts(context.Background(), "d.test", &DeliverOptions{Resolver: res})
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "c"}, hosts[2:])
		seen[hosts[0]] = true
	}
	assert.True(t, seen["a1"] && seen["a2"], "equal preferences are randomised")
	hosts, err := mxHosts(context.Background(), "none.test", &DeliverOptions{Resolver: res})
	require.NoError(t, err)
	assert.Equal(t, []string{"none.test"}, hosts, "implicit MX")
}

// RFC 3461 §4.1, §4.2: each recipient's NOTIFY and ORCPT go with it to its
// domain's MX host; options not parallel to the recipients are refused.
func TestDeliverRcptOptions(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	_, port, _ := net.SplitHostPort(addr)
	res := fakeResolver{
		"one.test": {{Host: "127.0.0.1.", Pref: 10}},
		"two.test": {{Host: "127.0.0.1.", Pref: 10}},
	}
	rcpts := []string{"a@one.test", "b@two.test", "c@one.test"}
	ro := []smtp.RcptOptions{
		{Notify: smtp.NotifySuccess | smtp.NotifyFailure, OriginalRecipient: "rfc822;alias@origin.test"},
		{Notify: smtp.NotifyNever},
		{},
	}
	o := &DeliverOptions{Resolver: res, Port: port, TLS: TLSNone, RcptOptions: ro, Options: Options{LocalName: "origin.test"}}
	for _, r := range Deliver(ctxT(t), "sender@origin.test", rcpts, strings.NewReader(plainMsg), o) {
		require.NoError(t, r.Err)
	}
	msgs := rec.all()
	require.Len(t, msgs, 2)
	byRcpt := map[string]smtp.RcptOptions{}
	for _, m := range msgs {
		require.Len(t, m.RcptOpts, len(m.To))
		for i, to := range m.To {
			byRcpt[to] = m.RcptOpts[i]
		}
	}
	assert.Equal(t, ro[0].Notify, byRcpt["a@one.test"].Notify)
	assert.Equal(t, ro[0].OriginalRecipient, byRcpt["a@one.test"].OriginalRecipient)
	assert.Equal(t, smtp.NotifyNever, byRcpt["b@two.test"].Notify)
	assert.Zero(t, byRcpt["c@one.test"].Notify)

	o.RcptOptions = ro[:2]
	for _, r := range Deliver(ctxT(t), "sender@origin.test", rcpts, strings.NewReader(plainMsg), o) {
		assert.ErrorContains(t, r.Err, "parallel")
	}
}
