package maildir

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// TestHelperLMTPServer is not a test: TestKill9 runs the test binary
// with it as a separate process serving LMTP into a store, while it also
// changes flags and expunges, until it is killed.
func TestHelperLMTPServer(t *testing.T) {
	dir := os.Getenv("POSTHORN_MAILDIR_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.AddUser("bench", "pw")
	srv := &smtpserver.Server{Mode: smtpserver.ModeLMTP, Hostname: "localhost",
		Backend: smtpserver.NewStoreBackend(s, smtpserver.StoreOptions{}), Limits: smtpserver.Limits{MaxMessages: 1 << 30}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	// Flag changes and expunges of messages flagged $gone meanwhile.
	go func() {
		ctx := context.Background()
		u, _ := s.User(ctx, "bench", nil)
		for {
			mb, err := u.OpenMailbox(ctx, "INBOX", false)
			if err == nil {
				if uids := mb.Snapshot().UIDs; len(uids) > 0 {
					mb.SetFlags(ctx, uids[rand.IntN(len(uids)):], imapserver.FlagsAdd, []string{`\Seen`, "$k"}, 0)
					mb.SetFlags(ctx, uids[:rand.IntN(len(uids))], imapserver.FlagsRemove, []string{`\Seen`}, 0)
				}
				mb.Close()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	fmt.Printf("LISTENING %s\n", ln.Addr())
	select {}
}

// TestKill9: kill -9 the server during a flood of LMTP deliveries and
// flag changes; after the restart every delivery acknowledged with 250 is
// there exactly once and whole, and the store opens cleanly. (kill -9
// keeps the page cache: TestPowerCut checks the fsyncs themselves.)
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	var acked sync.Map
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLMTPServer$", "-test.timeout=0")
		cmd.Env = append(os.Environ(), "POSTHORN_MAILDIR_HELPER_DIR="+dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(out)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "LISTENING ") {
			cmd.Process.Kill()
			t.Fatalf("helper: %q %v", line, err)
		}
		addr := strings.TrimSpace(strings.TrimPrefix(line, "LISTENING "))
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer conn.Close()
				r := bufio.NewReader(conn)
				reply := func() (string, bool) {
					for {
						l, err := r.ReadString('\n')
						if err != nil {
							return "", false
						}
						if len(l) < 4 || l[3] != '-' {
							return l, true
						}
					}
				}
				reply()
				fmt.Fprintf(conn, "LHLO test\r\n")
				reply()
				for i := 0; ; i++ {
					id := fmt.Sprintf("%d.%d.%d", round, c, i)
					fmt.Fprintf(conn, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bench@localhost>\r\nDATA\r\n")
					for k := 0; k < 3; k++ {
						if _, ok := reply(); !ok {
							return
						}
					}
					fmt.Fprintf(conn, "%s.\r\n", body9(id))
					l, ok := reply()
					if !ok {
						return
					}
					if strings.HasPrefix(l, "250") {
						acked.Store(id, true)
					}
				}
			}(c)
		}
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
		wg.Wait()
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("bench", "pw"); err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, got := range inbox(t, s, "bench") {
		// The server puts its Received: field first.
		var id string
		if i := strings.Index(got, "Message-ID: <"); i >= 0 {
			id, _, _ = strings.Cut(got[i+len("Message-ID: <"):], "@test>")
		}
		if !strings.HasSuffix(got, body9(id)) {
			t.Errorf("a message is not whole: %q", got)
		}
		found[id]++
	}
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if found[k.(string)] != 1 {
			t.Errorf("acknowledged %s found %d times", k, found[k.(string)])
		}
		return true
	})
	for id, c := range found {
		if c > 1 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
	t.Logf("%d deliveries acknowledged over 3 kills, %d messages found", n, len(found))
	if n == 0 {
		t.Fatal("nothing was delivered")
	}
}

func body9(id string) string {
	return fmt.Sprintf("Message-ID: <%s@test>\r\nSubject: %s\r\n\r\n%s", id, id, strings.Repeat("some text\r\n", 20))
}
