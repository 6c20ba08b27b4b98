package imapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// fetchAll returns the untagged lines of one FETCH over the whole mailbox.
func fetchAll(c *testConn, items string) []string {
	c.t.Helper()
	c.send("f UID FETCH 1:* " + items)
	var lines []string
	for {
		l := c.readLine()
		if strings.HasPrefix(l, "f ") {
			if !strings.HasPrefix(l, "f OK") {
				c.t.Fatalf("FETCH: %s", l)
			}
			return lines
		}
		lines = append(lines, l)
	}
}

// A server whose parse cache holds far fewer parses than the mailbox
// has messages, and one with the default cache, answer every structure
// item exactly as one with the cache off (which parses the whole
// message each time), fetch after fetch, also after an ENVELOPE-only
// FETCH (which caches a parse of the header alone).
func TestParseCacheBoundedFetch(t *testing.T) {
	const n = 300
	items := "(ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1])"
	var want, wantEnv string
	for _, bound := range []int64{-1, 0, 16 << 10, 1} {
		ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.ParseCacheBytes = bound })
		for i := range n {
			m := msg1
			if i%2 == 1 {
				m = msg2
			}
			ts.deliver(strings.Replace(m, "Subject: ", fmt.Sprintf("Subject: %d ", i), 1))
		}
		c := ts.login()
		c.run(`
C: s SELECT INBOX
S: ~ s OK`)
		// ENVELOPE alone first: the header-only parse it caches must
		// give way to the whole parse for the other items.
		env := strings.Join(fetchAll(c, "ENVELOPE"), "\n")
		if wantEnv == "" {
			wantEnv = env
		} else if env != wantEnv {
			t.Fatalf("bound %d: ENVELOPE differs from the default cache's", bound)
		}
		for round := range 3 {
			got := strings.Join(fetchAll(c, items), "\n")
			if c := strings.Count(got, "* "); c != n {
				t.Fatalf("bound %d: %d FETCH responses, want %d", bound, c, n)
			}
			if want == "" {
				want = got
			} else if got != want {
				t.Fatalf("bound %d, round %d: the answer differs from the default cache's", bound, round)
			}
		}
	}
}
