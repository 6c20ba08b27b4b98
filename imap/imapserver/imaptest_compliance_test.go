package imapserver_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// Dovecot's imaptest (shared/tools/imaptest, built by .ci/run) runs its
// compliance scripts and its randomised stress mode against our server
// over imapmem. Dovecot 2.3 passes every script; so must we, apart from
// the groups listed in imaptestExceptions.

// imaptestExceptions names the compliance script commands ("group:line",
// the line of the script) whose expectation is one server's choice where
// the RFCs allow others, with the text that allows ours. A command listed
// here may fail; every other must pass.
var imaptestExceptions = map[string]string{
	// The script expects "* 1 EXPUNGE" then "* 1 EXISTS" (Dovecot's order)
	// for MOVE of the only message into the selected mailbox; we announce
	// the copy first ("* 2 EXISTS"), then the expunge of the original.
	// RFC 6851 §3.3: MOVE has the effect of "[UID] COPY", "[UID] STORE
	// +FLAGS.SILENT \DELETED", "UID EXPUNGE" in that order, and "the
	// server may send EXPUNGE (or VANISHED) responses before the tagged
	// response"; nothing asks for the EXPUNGE before the EXISTS, and
	// RFC 9051 §7.4.1 lets EXISTS come whenever the size changes.
	"move:44": "RFC 6851 §3.3: MOVE = COPY, STORE, UID EXPUNGE; EXISTS of the copy may precede the EXPUNGE",
}

// startImaptestServer serves the tests' store (imapmem, or Maildir with
// POSTHORN_TEST_STORE=maildir) with user "imaptest" on 127.0.0.1 with
// plaintext LOGIN allowed (the imaptest build has no STARTTLS) and
// returns the port.
func startImaptestServer(t *testing.T) int {
	t.Helper()
	store := newTestStore(t)
	if err := store.AddUser("imaptest", "pass"); err != nil {
		t.Fatal(err)
	}
	// Every imaptest client comes from 127.0.0.1, and the stress mode
	// logs out and reconnects all the time: closing sessions still count
	// for a moment, so the default of 20 per address refused some with
	// "* BYE [UNAVAILABLE] Too many connections" under -race. The test is
	// about consistency, not limits.
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true,
		Limits: imapserver.Limits{MaxConnectionsPerIP: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// imaptestSummary matches imaptest's closing line, for example
// "71 test groups: 13 failed, 0 skipped due to missing capabilities".
var imaptestSummary = regexp.MustCompile(`(\d+) test groups: (\d+) failed, (\d+) skipped`)

// imaptestGroupFailure matches the line naming a failed command of a
// group's script: "*** Test NAME command N/M (line L)".
var imaptestGroupFailure = regexp.MustCompile(`(?m)^\*\*\* Test (\S+) command \d+/\d+ \(line (\d+)\)`)

// imaptestError matches a consistency error imaptest found outside the
// scripts' own checks (in the compliance run, or any in the stress run).
var imaptestError = regexp.MustCompile(`(?m)^Error: .*$`)

func TestImaptestCompliance(t *testing.T) {
	it := testpeer.FindImaptest(t)
	port := startImaptestServer(t)
	cmd := it.Command("host=127.0.0.1", "port="+strconv.Itoa(port),
		"user=imaptest", "pass=pass", "test="+it.Tests)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	err := cmd.Run()
	if os.Getenv("POSTHORN_IMAPTEST_LOG") != "" {
		os.WriteFile(os.Getenv("POSTHORN_IMAPTEST_LOG"), out.Bytes(), 0o644)
	}
	m := imaptestSummary.FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatalf("imaptest: %v, no summary line in its output:\n%s", err, out.Bytes())
	}
	t.Logf("imaptest: %s", bytes.TrimSpace(lineAround(out.Bytes(), m[0])))
	var unexpected []string
	for _, g := range imaptestGroupFailure.FindAllSubmatch(out.Bytes(), -1) {
		key := string(g[1]) + ":" + string(g[2])
		if why, ok := imaptestExceptions[key]; ok {
			t.Logf("imaptest %s fails, an allowed exception: %s", key, why)
			continue
		}
		unexpected = append(unexpected, key)
	}
	if len(unexpected) > 0 {
		t.Errorf("imaptest script commands failed (group:line): %s\n%s", strings.Join(unexpected, " "), out.Bytes())
	}
	// Consistency errors beside the scripts (a keyword missing from
	// FLAGS, issue 12 defect 3) fail the test too.
	if errs := imaptestError.FindAll(out.Bytes(), -1); len(errs) > 0 {
		t.Errorf("imaptest reported %d consistency errors beside the scripts, the first: %s", len(errs), errs[0])
	}
}

// The stress mode: 10 clients run random commands on one mailbox for 60 s
// and imaptest checks every response against its model of the mailbox
// (flags and mod-sequences never go back, expunged messages stay gone,
// keywords are in FLAGS...). Any error line fails the test.
//
// Before issue 12's defects 1–3 (update order, EXPUNGEISSUED, FLAGS
// updates) were fixed, 30 s of stress mode reported 24,711 error lines.
func TestImaptestStress(t *testing.T) {
	it := testpeer.FindImaptest(t)
	port := startImaptestServer(t)
	secs := "60"
	if testing.Short() {
		secs = "10"
	}
	cmd := it.Command("host=127.0.0.1", "port="+strconv.Itoa(port),
		"user=imaptest", "pass=pass", "mbox="+filepath.Join(it.Tests, "default.mbox"),
		"clients=10", "secs="+secs)
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	err := cmd.Run()
	if os.Getenv("POSTHORN_IMAPTEST_LOG") != "" {
		os.WriteFile(os.Getenv("POSTHORN_IMAPTEST_LOG"), out.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatalf("imaptest: %v\n%s", err, tail(out.Bytes(), 4000))
	}
	if !bytes.Contains(out.Bytes(), []byte("Totals:")) {
		t.Fatalf("imaptest stress printed no totals:\n%s", tail(out.Bytes(), 4000))
	}
	if errs := imaptestError.FindAll(out.Bytes(), -1); len(errs) > 0 {
		var first []string
		for _, e := range errs[:min(len(errs), 20)] {
			first = append(first, string(e))
		}
		t.Errorf("imaptest stress: %d error lines, the first:\n%s", len(errs), strings.Join(first, "\n"))
	}
	t.Logf("imaptest stress totals:\n%s", tail(out.Bytes(), 600))
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// lineAround returns the whole line of out that contains part.
func lineAround(out, part []byte) []byte {
	i := bytes.Index(out, part)
	start := bytes.LastIndexByte(out[:i], '\n') + 1
	end := bytes.IndexByte(out[i:], '\n')
	if end < 0 {
		return out[start:]
	}
	return out[start : i+end]
}
