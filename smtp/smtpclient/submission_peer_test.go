package smtpclient_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDovecotSubmission: the Submitter against Dovecot's submission service
// (relaying to an smtptest server), across a Dovecot restart: the pooled
// connection is dead and the next message goes on a new one (issue 15).
func TestDovecotSubmission(t *testing.T) {
	relay := smtptest.NewServer(t)
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{SubmissionRelay: relay.Addr})
	if d.Submission == "" {
		t.Fatal("no submission service")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := "From: alice@localhost\r\nTo: bob@example.org\r\nSubject: via dovecot\r\n\r\nhello\r\n"
	s := &smtpclient.Submitter{Addr: d.Submission, Auth: &sasl.ClientOptions{Username: "alice", Password: "alicepw"},
		Options: smtpclient.Options{TLSConfig: d.TLSConfig(), LocalName: "client.test"}, NoopAfter: -1}
	defer s.Close(ctx)
	env := &smtpclient.Envelope{From: "alice@localhost", To: []string{"bob@example.org"}}
	_, err := s.Submit(ctx, env, strings.NewReader(msg))
	require.NoError(t, err)
	// The server drops the idle pooled connection, as its idle timeout
	// would (doveadm kick closes the user's sessions).
	out, err := exec.Command("doveadm", "-c", d.Dir+"/dovecot.conf", "kick", "alice").CombinedOutput()
	require.NoError(t, err, "doveadm kick: %s", out)
	time.Sleep(200 * time.Millisecond)
	_, err = s.Submit(ctx, env, strings.NewReader(msg))
	require.NoError(t, err, "after the server dropped the pooled connection")
	// The second message needed a second login: the pooled connection
	// was gone, and the Submitter replaced it.
	logins := 0
	for deadline := time.Now().Add(3 * time.Second); logins < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		log, _ := os.ReadFile(d.LogFile)
		logins = strings.Count(string(log), "submission-login: Info: Login: user=<alice>")
	}
	assert.Equal(t, 2, logins, "logins before the restart")
	d.Restart(t)
	_, err = s.Submit(ctx, env, strings.NewReader(msg))
	require.NoError(t, err, "after the restart")
	msgs, err := relay.WaitForMessages(ctx, 3, smtptest.To("bob@example.org"))
	require.NoError(t, err)
	assert.Equal(t, "alice@localhost", msgs[0].From)
	assert.Equal(t, "via dovecot", msgs[1].Subject)
	// Wrong credentials match sasl.ErrAuthFailed through Dovecot too.
	bad := &smtpclient.Submitter{Addr: d.Submission, Auth: &sasl.ClientOptions{Username: "alice", Password: "nope"},
		Options: smtpclient.Options{TLSConfig: d.TLSConfig()}}
	_, err = bad.Submit(ctx, env, strings.NewReader(msg))
	require.ErrorIs(t, err, sasl.ErrAuthFailed)
}
