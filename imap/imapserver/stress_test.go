package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stressView is one session's model of the mailbox, checked against
// every response: sequence numbers and UIDs agree with what was
// announced, UIDs ascend, and no expunged UID comes back.
type stressView struct {
	t    *testing.T
	name string
	conn net.Conn
	br   *bufio.Reader
	uids []uint32 // 0 = not yet known
	gone map[uint32]bool
	tagN int
}

var (
	reFetch   = regexp.MustCompile(`^\* (\d+) FETCH \((.*)\)$`)
	reUID     = regexp.MustCompile(`UID (\d+)`)
	reExists  = regexp.MustCompile(`^\* (\d+) EXISTS$`)
	reExpunge = regexp.MustCompile(`^\* (\d+) EXPUNGE$`)
)

func (v *stressView) fail(format string, args ...any) {
	v.t.Errorf("%s: %s", v.name, fmt.Sprintf(format, args...))
}

// cmd sends a command and checks every response line until the tagged one.
func (v *stressView) cmd(command string, uidCmd bool) string {
	v.tagN++
	tag := fmt.Sprintf("%s%d", v.name, v.tagN)
	fmt.Fprintf(v.conn, "%s %s\r\n", tag, command)
	expungeOK := uidCmd || !(strings.HasPrefix(command, "FETCH") || strings.HasPrefix(command, "STORE") || strings.HasPrefix(command, "SEARCH"))
	for {
		v.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := v.br.ReadString('\n')
		if err != nil {
			v.t.Fatalf("%s: %v", v.name, err)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if strings.HasPrefix(line, tag+" ") {
			return line[len(tag)+1:]
		}
		if m := reExists.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < len(v.uids) {
				v.fail("EXISTS %d below %d", n, len(v.uids))
			}
			for len(v.uids) < n {
				v.uids = append(v.uids, 0)
			}
		} else if m := reExpunge.FindStringSubmatch(line); m != nil {
			if !expungeOK {
				v.fail("EXPUNGE during %q (RFC 9051 §7.5.1)", command)
			}
			n, _ := strconv.Atoi(m[1])
			if n < 1 || n > len(v.uids) {
				v.fail("EXPUNGE %d of %d", n, len(v.uids))
				continue
			}
			if u := v.uids[n-1]; u != 0 {
				v.gone[u] = true
			}
			v.uids = slices.Delete(v.uids, n-1, n)
		} else if m := reFetch.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < 1 || n > len(v.uids) {
				v.fail("FETCH %d of %d: %s", n, len(v.uids), line)
				continue
			}
			if um := reUID.FindStringSubmatch(m[2]); um != nil {
				u64, _ := strconv.ParseUint(um[1], 10, 32)
				u := uint32(u64)
				if v.gone[u] {
					v.fail("expunged UID %d reappeared", u)
				}
				if old := v.uids[n-1]; old != 0 && old != u {
					v.fail("seq %d was UID %d, now %d", n, old, u)
				}
				v.uids[n-1] = u
				if n > 1 && v.uids[n-2] >= u || n < len(v.uids) && v.uids[n] != 0 && v.uids[n] <= u {
					v.fail("UIDs not ascending around seq %d: %v", n, v.uids)
				}
			}
		}
	}
}

// TestStress runs concurrent sessions doing APPEND, STORE, COPY, MOVE,
// EXPUNGE, FETCH and SEARCH on one mailbox and checks each session's
// view after every response, and that all views converge.
func TestStress(t *testing.T) {
	ts := newTestServer(t)
	for range 10 {
		ts.deliver(msg1)
	}
	const sessions, rounds = 4, 80
	views := make([]*stressView, sessions)
	for i := range views {
		c := ts.login()
		views[i] = &stressView{t: t, name: string(rune('a' + i)), conn: c.conn, br: c.br, gone: map[uint32]bool{}}
		if st := views[i].cmd("SELECT INBOX", false); !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
	}
	var wg sync.WaitGroup
	for i, v := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range rounds {
				n := len(v.uids)
				seq := 1
				if n > 0 {
					seq = 1 + rng.IntN(n)
				}
				switch rng.IntN(9) {
				case 0:
					v.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg1), msg1), false)
				case 1:
					if n > 0 {
						v.cmd(fmt.Sprintf("STORE %d +FLAGS (\\Deleted)", seq), false)
					}
				case 2:
					if n > 0 {
						v.cmd(fmt.Sprintf("UID STORE %d:* -FLAGS ($x)", rng.IntN(20)+1), true)
					}
				case 3:
					if n > 0 {
						v.cmd(fmt.Sprintf("COPY %d INBOX", seq), false)
					}
				case 4:
					if n > 0 {
						v.cmd(fmt.Sprintf("MOVE %d Trash", seq), false)
					}
				case 5:
					v.cmd("EXPUNGE", false)
				case 6:
					if n > 0 {
						v.cmd(fmt.Sprintf("FETCH 1:%d (UID FLAGS)", n), false)
					}
				case 7:
					v.cmd("SEARCH DELETED", false)
				case 8:
					v.cmd("UID FETCH 1:* (FLAGS)", true)
				}
			}
		}()
	}
	wg.Wait()
	u, _ := ts.store.User(context.Background(), "alice")
	h, _ := u.OpenMailbox(context.Background(), "INBOX", true)
	want := h.Snapshot().UIDs
	h.Close()
	for _, v := range views {
		v.cmd("NOOP", false)
		v.cmd("UID FETCH 1:* (FLAGS)", true)
		if !slices.Equal(v.uids, want) {
			t.Errorf("%s: view %v, mailbox %v", v.name, v.uids, want)
		}
	}
}
