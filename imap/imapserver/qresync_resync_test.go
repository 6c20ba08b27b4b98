package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapserver"
)

// mailCache is what a disconnected QRESYNC client keeps of INBOX
// (RFC 7162 §6): UIDVALIDITY, HIGHESTMODSEQ and each message's flags.
type mailCache struct {
	uidValidity uint32
	modSeq      uint64
	uidNext     uint32
	flags       map[uint32]string // UID -> flags, sorted, space-separated
}

func (m *mailCache) clone() *mailCache {
	c := *m
	c.flags = make(map[uint32]string, len(m.flags))
	for k, v := range m.flags {
		c.flags[k] = v
	}
	return &c
}

// knownUIDs returns the cached UIDs as a set.
func (m *mailCache) knownUIDs() string {
	uids := make([]uint32, 0, len(m.flags))
	for u := range m.flags {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	return imap.NumSetOf(uids...).String()
}

var (
	reFetchUID     = regexp.MustCompile(`^\* \d+ FETCH \(.*UID (\d+)`)
	reFetchFlags   = regexp.MustCompile(`FLAGS \(([^)]*)\)`)
	reFetchModSeq  = regexp.MustCompile(`MODSEQ \((\d+)\)`)
	reHighestMod   = regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`)
	reUIDValidity  = regexp.MustCompile(`\[UIDVALIDITY (\d+)\]`)
	reUIDNext      = regexp.MustCompile(`\[UIDNEXT (\d+)\]`)
	reVanishedLine = regexp.MustCompile(`^\* VANISHED (\(EARLIER\) )?(\S+)$`)
)

func normFlags(s string) string {
	// \Recent is the state of one session, not of the mailbox (RFC 3501
	// §2.3.2): a cache session that happened to SELECT between an APPEND
	// and the appending session's next poll sees it, the final one not.
	f := slices.DeleteFunc(strings.Fields(s), func(x string) bool { return strings.EqualFold(x, `\Recent`) })
	slices.Sort(f)
	return strings.Join(f, " ")
}

// exchange sends one command and returns the untagged lines and the
// tagged status.
func (c *testConn) exchange(tag, cmd string) ([]string, string) {
	c.t.Helper()
	c.send(tag + " " + cmd)
	var lines []string
	for {
		l := c.readLine()
		if strings.HasPrefix(l, tag+" ") {
			return lines, l[len(tag)+1:]
		}
		lines = append(lines, l)
	}
}

// apply updates the cache from responses: FETCH (UID FLAGS MODSEQ),
// VANISHED with or without EARLIER, HIGHESTMODSEQ, UIDVALIDITY, UIDNEXT.
func (m *mailCache) apply(t *testing.T, lines []string) {
	t.Helper()
	for _, l := range lines {
		if v := reVanishedLine.FindStringSubmatch(l); v != nil {
			set, err := imap.ParseNumSet(v[2])
			if err != nil {
				t.Fatalf("bad VANISHED %q: %v", l, err)
			}
			for _, r := range set.Ranges {
				for u := r.Start; u <= r.Stop; u++ {
					delete(m.flags, u)
				}
			}
			continue
		}
		if u := reFetchUID.FindStringSubmatch(l); u != nil {
			uid, _ := strconv.ParseUint(u[1], 10, 32)
			if f := reFetchFlags.FindStringSubmatch(l); f != nil {
				m.flags[uint32(uid)] = normFlags(f[1])
			}
			if reFetchModSeq.FindStringSubmatch(l) == nil {
				t.Errorf("no MODSEQ in %q", l) // RFC 7162 §3.1, §3.2.5.1
			}
			continue
		}
		if h := reHighestMod.FindStringSubmatch(l); h != nil {
			m.modSeq, _ = strconv.ParseUint(h[1], 10, 64)
		}
		if h := reUIDValidity.FindStringSubmatch(l); h != nil {
			v, _ := strconv.ParseUint(h[1], 10, 32)
			m.uidValidity = uint32(v)
		}
		if h := reUIDNext.FindStringSubmatch(l); h != nil {
			v, _ := strconv.ParseUint(h[1], 10, 32)
			m.uidNext = uint32(v)
		}
	}
}

// fullSync builds a cache from scratch: SELECT (CONDSTORE), then every
// message's flags.
func fullSync(t *testing.T, ts *testServer) *mailCache {
	t.Helper()
	c := ts.login()
	m := &mailCache{flags: map[uint32]string{}}
	lines, st := c.exchange("f1", "SELECT INBOX (CONDSTORE)")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	m.apply(t, lines)
	lines, st = c.exchange("f2", "UID FETCH 1:* (FLAGS)")
	if !strings.HasPrefix(st, "OK") && !strings.HasPrefix(st, "NO [EXPUNGEISSUED]") {
		t.Fatal(st)
	}
	m.apply(t, lines)
	c.exchange("f3", "LOGOUT")
	return m
}

// qresync brings the cache up to date in one SELECT (QRESYNC), plus a
// UID FETCH of the messages new since the cached UIDNEXT, and returns
// the number of untagged responses of the SELECT.
func qresync(t *testing.T, ts *testServer, m *mailCache, withKnown bool) int {
	t.Helper()
	c := ts.login()
	if _, st := c.exchange("r1", "ENABLE QRESYNC"); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	arg := fmt.Sprintf("%d %d", m.uidValidity, m.modSeq)
	if withKnown && len(m.flags) > 0 {
		arg += " " + m.knownUIDs()
	}
	lines, st := c.exchange("r2", "SELECT INBOX (QRESYNC ("+arg+"))")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	for _, l := range lines {
		if strings.Contains(l, "VANISHED") && !strings.Contains(l, "(EARLIER)") {
			t.Errorf("VANISHED without EARLIER in SELECT: %q", l)
		}
	}
	oldNext := m.uidNext
	m.apply(t, lines)
	newLines, st := c.exchange("r3", fmt.Sprintf("UID FETCH %d:* (FLAGS)", oldNext))
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	for _, l := range newLines {
		// "n:*" names the last message even when it is older than n.
		if u := reFetchUID.FindStringSubmatch(l); u != nil {
			if uid, _ := strconv.ParseUint(u[1], 10, 32); uint32(uid) < oldNext {
				continue
			}
		}
		m.apply(t, []string{l})
	}
	c.exchange("r4", "LOGOUT")
	return len(lines)
}

// sameCache compares a resynchronised cache with the server's state.
func sameCache(t *testing.T, what string, got, want *mailCache) {
	t.Helper()
	if got.uidValidity != want.uidValidity || got.modSeq != want.modSeq {
		t.Errorf("%s: UIDVALIDITY/HIGHESTMODSEQ %d/%d, server %d/%d", what, got.uidValidity, got.modSeq, want.uidValidity, want.modSeq)
	}
	for u, f := range want.flags {
		if g, ok := got.flags[u]; !ok {
			t.Errorf("%s: UID %d missing", what, u)
		} else if g != f {
			t.Errorf("%s: UID %d flags %q, server %q", what, u, g, f)
		}
	}
	for u := range got.flags {
		if _, ok := want.flags[u]; !ok {
			t.Errorf("%s: UID %d kept but expunged on the server", what, u)
		}
	}
}

// randomChanges makes n random changes through a backend handle: flag
// changes, expunges of a few messages and deliveries.
func randomChanges(t *testing.T, ts *testServer, rng *rand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	u, err := ts.store.User(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	uids := mb.Snapshot().UIDs
	flags := []string{`\Seen`, `\Flagged`, `\Answered`, `\Draft`, "$Label1", "$Junk"}
	for range n {
		mb.Poll()
		switch k := rng.IntN(10); {
		case k < 6 && len(uids) > 0:
			pick := []uint32{uids[rng.IntN(len(uids))]}
			if rng.IntN(3) == 0 {
				pick = append(pick, uids[rng.IntN(len(uids))])
				slices.Sort(pick)
				pick = slices.Compact(pick)
			}
			op := imapserver.FlagOp(rng.IntN(3))
			if _, err := mb.SetFlags(ctx, pick, op, []string{flags[rng.IntN(len(flags))]}, 0); err != nil {
				t.Fatal(err)
			}
		case k < 8 && len(uids) > 1:
			victim := uids[rng.IntN(len(uids))]
			if _, err := mb.SetFlags(ctx, []uint32{victim}, imapserver.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
				t.Fatal(err)
			}
			if err := mb.Expunge(ctx, []uint32{victim}); err != nil {
				t.Fatal(err)
			}
			uids = slices.DeleteFunc(uids, func(u uint32) bool { return u == victim })
		default:
			uid, err := ts.store.Deliver(ctx, "alice", strings.NewReader(msg2))
			if err != nil {
				t.Fatal(err)
			}
			uids = append(uids, uid)
		}
	}
}

// A client offline across hundreds of flag changes, expunges and new
// messages resynchronises with one SELECT (QRESYNC) (and a UID FETCH of
// the new messages) and ends with exactly the server's state, with and
// without the list of known UIDs (RFC 7162 §3.2.5, §6).
func TestQresyncOfflineClient(t *testing.T) {
	ts := newCondstoreServer(t, 300)
	rng := rand.New(rand.NewPCG(7162, 1))
	cache := fullSync(t, ts)
	for round := range 3 {
		randomChanges(t, ts, rng, 400)
		want := fullSync(t, ts)
		a, b := cache.clone(), cache.clone()
		n := qresync(t, ts, a, true)
		sameCache(t, fmt.Sprintf("round %d, known UIDs", round), a, want)
		qresync(t, ts, b, false)
		sameCache(t, fmt.Sprintf("round %d, no known UIDs", round), b, want)
		if n > 300 {
			t.Errorf("round %d: SELECT (QRESYNC) sent %d responses for 400 changes", round, n)
		}
		cache = a
	}
	// Nothing changed: the resync is the SELECT alone.
	start := time.Now()
	a := cache.clone()
	qresync(t, ts, a, true)
	sameCache(t, "unchanged", a, cache)
	t.Logf("idle resync of %d messages: %v", len(a.flags), time.Since(start))
}
