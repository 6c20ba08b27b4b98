// Package kitcompare measures the test kit against the anchors issue 14
// names: Mailpit driven through its HTTP API with the polling loop its
// users write, and our smtptest with WaitForMessages. The two test styles
// below are what an application's test looks like with each; their line
// counts and wall times go in the closing note.
//
// Mailpit is a program: build it once outside the main module and point
// the test at it (it is never a dependency of either module):
//
//	GOBIN=/tmp/mp go install github.com/axllent/mailpit@v1.33.1
//	POSTHORN_MAILPIT=/tmp/mp/mailpit go test -run KitVsMailpit -v ./kitcompare
package kitcompare

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

const msg = "From: shop@example.org\r\nTo: bob@example.org\r\nSubject: Welcome\r\n\r\nGlad you are here.\r\n"

// appSend is the application code under test.
func appSend(ctx context.Context, addr string, opts *smtpclient.Options) error {
	_, err := smtpclient.Submit(ctx, addr, nil, "shop@example.org", []string{"bob@example.org"},
		strings.NewReader(msg), &smtpclient.SubmitOptions{TLS: smtpclient.TLSOpportunistic, Options: *opts})
	return err
}

// --- the test as written with smtptest (13 lines) ---

func smtptestStyle(t testing.TB, ctx context.Context) {
	srv := smtptest.NewServer(t)
	if err := appSend(ctx, srv.Addr, srv.ClientOptions()); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitForMessages(ctx, 1, smtptest.To("bob@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Subject != "Welcome" {
		t.Errorf("subject %q", msgs[0].Subject)
	}
}

// --- the test as written against Mailpit (36 lines with its JSON type) ---

type mailpitList struct {
	Messages []struct {
		ID      string `json:"ID"`
		Subject string `json:"Subject"`
	} `json:"messages"`
}

func mailpitStyle(t testing.TB, ctx context.Context, smtpAddr, api string) {
	if err := appSend(ctx, smtpAddr, &smtpclient.Options{}); err != nil {
		t.Fatal(err)
	}
	var found mailpitList
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(api + "/api/v1/search?query=" + url.QueryEscape("to:bob@example.org"))
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&found)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(found.Messages) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no message")
		}
	}
	if found.Messages[0].Subject != "Welcome" {
		t.Errorf("subject %q", found.Messages[0].Subject)
	}
	req, _ := http.NewRequest(http.MethodDelete, api+"/api/v1/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// TestKitVsMailpit runs each style 30 times and reports the median wall
// time per test (Mailpit's start is paid once, as in a suite that shares
// one container; ours starts a server per test).
func TestKitVsMailpit(t *testing.T) {
	bin := os.Getenv("POSTHORN_MAILPIT")
	if bin == "" {
		t.Skip("POSTHORN_MAILPIT not set (see the package doc)")
	}
	smtpAddr, httpAddr := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", httpAddr, "--disable-version-check", "--smtp-disable-rdns", "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api := "http://" + httpAddr
	start := time.Now()
	for {
		if resp, err := http.Get(api + "/api/v1/messages"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("mailpit did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("mailpit start: %v", time.Since(start))
	ctx := context.Background()
	const rounds = 30
	var ours, theirs []time.Duration
	for i := 0; i < rounds; i++ {
		t0 := time.Now()
		t.Run("smtptest", func(t *testing.T) { smtptestStyle(t, ctx) })
		ours = append(ours, time.Since(t0))
		t0 = time.Now()
		t.Run("mailpit", func(t *testing.T) { mailpitStyle(t, ctx, smtpAddr, api) })
		theirs = append(theirs, time.Since(t0))
	}
	t.Logf("median wall time per test over %d interleaved rounds: smtptest %v, mailpit %v (its users' 100 ms polling loop)", rounds, median(ours), median(theirs))
}
