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

	"github.com/posthorn/posthorn/imap"
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

	// QRESYNC sessions (RFC 7162): expunges come as VANISHED, and
	// mod-sequences may only grow.
	qresync bool
	highest uint64            // last HIGHESTMODSEQ seen
	modSeqs map[uint32]uint64 // last MODSEQ seen per UID (CONDSTORE sessions)
	recent  []string          // the last lines exchanged, for failure reports

	// The consistency checker (issue 12): keywords is the last FLAGS
	// response, lower-cased; flags the last flags seen per UID (sorted,
	// without \Recent), which must agree with the store in the end,
	// and, under CONDSTORE, be the same whenever the MODSEQ is.
	keywords map[string]bool
	flags    map[uint32]string
	flagsMod map[uint32]uint64 // the MODSEQ that came with flags[uid]
	// silentSet is the flag list of the running STORE FLAGS.SILENT
	// (CONDSTORE sessions): a FETCH (UID MODSEQ) it returns means the
	// message now has exactly those flags.
	silentSet string
}

var (
	reFetch   = regexp.MustCompile(`^\* (\d+) FETCH \((.*)\)$`)
	reUID     = regexp.MustCompile(`UID (\d+)`)
	reExists  = regexp.MustCompile(`^\* (\d+) EXISTS$`)
	reExpunge = regexp.MustCompile(`^\* (\d+) EXPUNGE$`)
	reVanish  = regexp.MustCompile(`^\* VANISHED (\(EARLIER\) )?(\S+)$`)
	reModSeq  = regexp.MustCompile(`MODSEQ \((\d+)\)`)
	reHighest = regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`)
	reFlags   = regexp.MustCompile(`FLAGS \(([^)]*)\)`)
	reFlagsRe = regexp.MustCompile(`^\* FLAGS \(([^)]*)\)$`)
)

// normStressFlags returns a flag list sorted, without \Recent, for comparing.
func normStressFlags(list string) string {
	fs := strings.Fields(list)
	fs = slices.DeleteFunc(fs, func(f string) bool { return strings.EqualFold(f, `\Recent`) })
	slices.Sort(fs)
	return strings.Join(fs, " ")
}

// fetchFlags checks the flags and MODSEQ a FETCH response shows for uid:
// every keyword was announced in FLAGS (RFC 9051 §7.3.5), and under
// CONDSTORE a MODSEQ never goes down and names one state (RFC 7162
// §3.1.4), so flags never go back to an older state.
func (v *stressView) fetchFlags(uid uint32, items string) {
	fm := reFlags.FindStringSubmatch(items)
	ms := reModSeq.FindStringSubmatch(items)
	var mod uint64
	if ms != nil {
		mod, _ = strconv.ParseUint(ms[1], 10, 64)
	}
	if ms != nil && v.modSeqs != nil {
		if mod < v.modSeqs[uid] {
			v.fail("MODSEQ of UID %d went down from %d to %d", uid, v.modSeqs[uid], mod)
		}
		v.modSeqs[uid] = max(v.modSeqs[uid], mod)
	}
	var norm string
	switch {
	case fm != nil:
		for _, f := range strings.Fields(fm[1]) {
			if !strings.HasPrefix(f, `\`) && v.keywords != nil && !v.keywords[strings.ToLower(f)] {
				v.fail("keyword %s of UID %d used without being in FLAGS", f, uid)
			}
		}
		norm = normStressFlags(fm[1])
	case ms != nil && v.silentSet != "":
		norm = v.silentSet
	default:
		return
	}
	if ms != nil && v.modSeqs != nil {
		if old, seen := v.flags[uid]; seen && mod == v.flagsMod[uid] && old != norm {
			v.fail("UID %d MODSEQ %d with flags (%s), earlier (%s)", uid, mod, norm, old)
		}
		v.flagsMod[uid] = mod
	}
	v.flags[uid] = norm
}

func (v *stressView) fail(format string, args ...any) {
	v.t.Errorf("%s: %s\nlast lines:\n%s", v.name, fmt.Sprintf(format, args...), strings.Join(v.recent, "\n"))
}

func (v *stressView) note(line string) {
	if len(v.recent) == 40 {
		v.recent = v.recent[1:]
	}
	v.recent = append(v.recent, line)
}

// cmd sends a command and checks every response line until the tagged one.
func (v *stressView) cmd(command string, uidCmd bool) string {
	v.tagN++
	tag := fmt.Sprintf("%s%d", v.name, v.tagN)
	fmt.Fprintf(v.conn, "%s %s\r\n", tag, command)
	v.note("C: " + tag + " " + command)
	expungeOK := uidCmd || !(strings.HasPrefix(command, "FETCH") || strings.HasPrefix(command, "STORE") || strings.HasPrefix(command, "SEARCH"))
	for {
		v.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := v.br.ReadString('\n')
		if err != nil {
			v.t.Fatalf("%s: %v", v.name, err)
		}
		line = strings.TrimSuffix(line, "\r\n")
		v.note("S: " + line)
		if m := reHighest.FindStringSubmatch(line); m != nil {
			h, _ := strconv.ParseUint(m[1], 10, 64)
			if h < v.highest {
				v.fail("HIGHESTMODSEQ went down from %d to %d", v.highest, h)
			}
			v.highest = h
		}
		if strings.HasPrefix(line, tag+" ") {
			return line[len(tag)+1:]
		}
		if m := reFlagsRe.FindStringSubmatch(line); m != nil {
			v.keywords = map[string]bool{}
			for _, f := range strings.Fields(m[1]) {
				v.keywords[strings.ToLower(f)] = true
			}
			continue
		}
		if m := reVanish.FindStringSubmatch(line); m != nil {
			v.vanished(line, m[1] != "", m[2], expungeOK)
			continue
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
			if v.qresync {
				v.fail("EXPUNGE after ENABLE QRESYNC (RFC 7162 §3.2.10.2): %s", line)
			}
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
			if v.qresync && !strings.Contains(m[2], "UID ") && (strings.Contains(m[2], "FLAGS") || strings.Contains(m[2], "MODSEQ")) &&
				!strings.HasPrefix(command, "FETCH") {
				v.fail("FETCH without UID after ENABLE QRESYNC (RFC 7162 §3.2.4): %s", line)
			}
			if um := reUID.FindStringSubmatch(m[2]); um == nil {
				if u := v.uids[n-1]; u != 0 {
					v.fetchFlags(u, m[2])
				}
			} else {
				u64, _ := strconv.ParseUint(um[1], 10, 32)
				u := uint32(u64)
				v.fetchFlags(u, m[2])
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

// vanished applies a VANISHED response (RFC 7162 §3.2.10): without
// EARLIER it removes messages of the view, each once, under the same
// rules as EXPUNGE; with EARLIER it names only UIDs no longer in it.
func (v *stressView) vanished(line string, earlier bool, setStr string, expungeOK bool) {
	if !v.qresync {
		v.fail("VANISHED without ENABLE QRESYNC: %s", line)
		return
	}
	set, err := imap.ParseNumSet(setStr)
	if err != nil {
		v.fail("bad VANISHED %q: %v", line, err)
		return
	}
	for _, r := range set.Ranges {
		if r.Stop-r.Start > 1<<16 {
			if !earlier {
				v.fail("VANISHED range too large: %s", line)
			}
			continue
		}
		for u := r.Start; u <= r.Stop; u++ {
			known := slices.Contains(v.uids, u)
			if earlier {
				if known {
					v.fail("VANISHED (EARLIER) names UID %d still in the view", u)
				}
				continue
			}
			if !expungeOK {
				v.fail("VANISHED during a command that forbids it: %s", line)
			}
			if v.gone[u] {
				v.fail("VANISHED names UID %d twice", u)
				continue
			}
			v.gone[u] = true
			if known {
				v.uids = slices.DeleteFunc(v.uids, func(x uint32) bool { return x == u })
				continue
			}
			// A message announced by EXISTS whose UID the session has not
			// fetched: it sits in a gap between the known UIDs around it.
			k := v.unknownSlot(u)
			if k < 0 {
				v.fail("VANISHED UID %d not in the view %v", u, v.uids)
				continue
			}
			v.uids = slices.Delete(v.uids, k, k+1)
		}
	}
}

// unknownSlot returns the index of an unknown (0) slot where uid may be:
// between the known UIDs below and above it. The unknown slots of one
// gap are interchangeable.
func (v *stressView) unknownSlot(uid uint32) int {
	slot := -1
	for k, x := range v.uids {
		switch {
		case x == 0:
			if slot < 0 {
				slot = k
			}
		case x < uid:
			slot = -1
		default:
			return slot
		}
	}
	return slot
}

// stressCommand runs one random command of a session.
func stressCommand(v *stressView, rng *rand.Rand) {
	n := len(v.uids)
	seq := 1
	if n > 0 {
		seq = 1 + rng.IntN(n)
	}
	if v.qresync && rng.IntN(3) == 0 {
		// RFC 7162 commands.
		switch rng.IntN(5) {
		case 0:
			v.cmd(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", v.highest/2), true)
		case 1:
			if n > 0 {
				st := v.cmd(fmt.Sprintf("STORE %d (UNCHANGEDSINCE %d) +FLAGS ($c%d)", seq, v.highest, rng.IntN(3)), false)
				if !strings.HasPrefix(st, "OK") && !strings.HasPrefix(st, "NO") {
					v.fail("conditional STORE: %s", st)
				}
			}
		case 2:
			v.cmd(fmt.Sprintf("UID SEARCH MODSEQ %d", v.highest), true)
		case 3:
			v.cmd(fmt.Sprintf("FETCH 1:* (MODSEQ) (CHANGEDSINCE %d)", v.highest), false)
		case 4:
			if n > 0 {
				v.cmd(fmt.Sprintf("UID EXPUNGE 1:%d", rng.IntN(40)+1), true)
			}
		}
		return
	}
	switch rng.IntN(11) {
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
	case 9:
		// New keywords: FLAGS must announce them to every session.
		if n > 0 {
			v.cmd(fmt.Sprintf("STORE %d +FLAGS ($k%d)", seq, rng.IntN(50)), false)
		}
	case 10:
		if n > 0 && v.modSeqs != nil {
			k := rng.IntN(50)
			v.silentSet = normStressFlags(fmt.Sprintf("\\Seen $k%d", k))
			v.cmd(fmt.Sprintf("STORE %d:* FLAGS.SILENT (\\Seen $k%d)", seq, k), false)
			v.silentSet = ""
		} else if n > 0 {
			v.cmd(fmt.Sprintf("STORE %d:* FLAGS (\\Seen $k%d)", seq, rng.IntN(50)), false)
		}
	}
}

// newStressView logs in a session of the stress tests.
func newStressView(t *testing.T, ts *testServer, i int) *stressView {
	c := ts.login()
	return &stressView{t: t, name: string(rune('a' + i)), conn: c.conn, br: c.br, gone: map[uint32]bool{},
		flags: map[uint32]string{}, flagsMod: map[uint32]uint64{}}
}

// runStress runs the sessions concurrently, then checks that every view
// converged on the mailbox.
func runStress(t *testing.T, ts *testServer, views []*stressView, rounds int, during func(rng *rand.Rand)) {
	var wg sync.WaitGroup
	for i, v := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for r := range rounds {
				stressCommand(v, rng)
				if during != nil && i == 0 && r%10 == 5 {
					during(rng)
				}
			}
		}()
	}
	wg.Wait()
	ctx := context.Background()
	u, _ := ts.store.User(ctx, "alice", nil)
	h, _ := u.OpenMailbox(ctx, "INBOX", true)
	want := h.Snapshot().UIDs
	msgs, err := h.Messages(ctx, want)
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		// Each session's last word on every message is the store's: no
		// older state came after a newer one. The NOOP first, so that
		// the FETCH is not what sets them.
		v.cmd("NOOP", false)
		for _, m := range msgs {
			// (A message copied in and never fetched has no flags told.)
			if got, seen := v.flags[m.UID()]; seen && got != normStressFlags(strings.Join(m.Flags(), " ")) {
				w := normStressFlags(strings.Join(m.Flags(), " "))
				t.Errorf("%s: UID %d: last told flags (%s), mailbox (%s)", v.name, m.UID(), got, w)
			}
		}
		v.cmd("UID FETCH 1:* (FLAGS)", true)
		if !slices.Equal(v.uids, want) {
			t.Errorf("%s: view %v, mailbox %v", v.name, v.uids, want)
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
		views[i] = newStressView(t, ts, i)
		if i%2 == 1 {
			// Half the sessions with MODSEQ in every FETCH.
			views[i].modSeqs = map[uint32]uint64{}
			if st := views[i].cmd("ENABLE CONDSTORE", false); !strings.HasPrefix(st, "OK") {
				t.Fatal(st)
			}
		}
		if st := views[i].cmd("SELECT INBOX", false); !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
	}
	runStress(t, ts, views, rounds, nil)
}

// TestStressQresync mixes QRESYNC sessions (conditional STOREs, UID
// FETCH (CHANGEDSINCE VANISHED), SEARCH MODSEQ, UID EXPUNGE) with plain
// ones. Besides the view checks, a QRESYNC session must see VANISHED and
// never EXPUNGE, UID in every unsolicited FETCH, and mod-sequences that
// only grow (RFC 7162 §3.1, §3.2.4, §3.2.10). Meanwhile full snapshots
// of the mailbox are taken; afterwards a QRESYNC resync from each of
// them must yield exactly the final state.
func TestStressQresync(t *testing.T) {
	ts := newTestServer(t)
	for range 20 {
		ts.deliver(msg1)
	}
	const sessions, rounds = 4, 80
	views := make([]*stressView, sessions)
	for i := range views {
		v := newStressView(t, ts, i)
		views[i] = v
		if i%2 == 0 {
			v.qresync, v.modSeqs = true, map[uint32]uint64{}
			if st := v.cmd("ENABLE QRESYNC", false); !strings.HasPrefix(st, "OK") {
				t.Fatal(st)
			}
		}
		if st := v.cmd("SELECT INBOX", false); !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
	}
	var checkpoints []*mailCache
	runStress(t, ts, views, rounds, func(*rand.Rand) {
		checkpoints = append(checkpoints, fullSync(t, ts))
	})
	final := fullSync(t, ts)
	for i, cp := range checkpoints {
		qresync(t, ts, cp, i%2 == 0)
		sameCache(t, fmt.Sprintf("resync from checkpoint %d", i), cp, final)
	}
	if len(checkpoints) < 5 {
		t.Errorf("only %d checkpoints", len(checkpoints))
	}
}
