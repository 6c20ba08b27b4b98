package imapsort

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// rawMessage writes m as an RFC 5322 message.
func rawMessage(m *Message) string {
	var b strings.Builder
	for _, f := range []struct{ k, v string }{
		{"From", m.From}, {"To", m.To}, {"Cc", m.Cc}, {"Subject", m.Subject}, {"Date", m.Date},
		{"Message-ID", m.MessageID}, {"References", m.References}, {"In-Reply-To", m.InReplyTo},
	} {
		if f.v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", f.k, f.v)
		}
	}
	fmt.Fprintf(&b, "\r\nbody of message %d\r\n", m.SeqNum)
	return b.String()
}

// The hand-worked mailbox, appended to a live Dovecot: its SORT and THREAD
// answers must equal ours. Sizes are those of the appended messages.
// Criteria whose collation differs by design (Dovecot uses
// i;unicode-casemap, RFC 5256 §7) are not compared.
func TestAgainstDovecot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dovecot")
	}
	testpeer.Python(t)
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	boxes := map[string][]Message{"INBOX": mailbox(), "links": linkRulesMailbox(), "dummies": dummiesMailbox(), "ids": idsMailbox()}
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 5 {
		data := make([]byte, 300)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		boxes[fmt.Sprintf("random%d", i)] = fuzzMailbox(data)
	}
	type appendMsg struct{ Raw, Date string }
	in := map[string][]appendMsg{}
	for name, msgs := range boxes {
		for i := range msgs {
			if msgs[i].InternalDate.IsZero() {
				msgs[i].InternalDate = utc("2024-03-01 00:00").Add(time.Duration(msgs[i].SeqNum) * time.Minute)
			}
			raw := rawMessage(&msgs[i])
			msgs[i].Size = int64(len(raw))
			in[name] = append(in[name], appendMsg{raw, msgs[i].InternalDate.Format(`"02-Jan-2006 15:04:05 -0700"`)})
		}
	}
	cmds := []string{"SORT (SUBJECT)", "SORT (DATE)", "SORT (ARRIVAL)", "SORT (SIZE)", "SORT (REVERSE SIZE)",
		"SORT (FROM)", "SORT (TO)", "SORT (CC)", "SORT (SUBJECT REVERSE DATE)", "SORT (SIZE FROM)",
		"THREAD REFERENCES", "THREAD ORDEREDSUBJECT"}
	js, _ := json.Marshal(map[string]any{"boxes": in, "cmds": cmds})
	host, port, _ := strings.Cut(d.IMAP, ":")
	const script = `
import imaplib, json, os, sys
req = json.loads(os.environ["REQ"])
M = imaplib.IMAP4(os.environ["HOST"], int(os.environ["PORT"]))
M.login("alice", "alicepw")
out = {}
for box, msgs in req["boxes"].items():
    if box != "INBOX":
        M.create(box)
    for m in msgs:
        typ, data = M.append(box, None, m["Date"], m["Raw"].encode())
        assert typ == "OK", data
    M.select(box)
    res = out[box] = []
    for c in req["cmds"]:
        kind, rest = c.split(" ", 1)
        if kind == "SORT":
            typ, data = M.sort(rest, "UTF-8", "ALL")
        else:
            typ, data = M.thread(rest, "UTF-8", "ALL")
        assert typ == "OK", (c, data)
        res.append((data[0] or b"").decode())
M.logout()
print(json.dumps(out))
`
	out := testpeer.RunPython(t, script, "REQ="+string(js), "HOST="+host, "PORT="+port)
	var results map[string][]string
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, msgs := range boxes {
		compareDovecot(t, name, msgs, cmds, results[name])
	}
}

func compareDovecot(t *testing.T, box string, msgs []Message, cmds, got []string) {
	if len(got) != len(cmds) {
		t.Fatalf("%s: %d answers", box, len(got))
	}
	for i, c := range cmds {
		var ours string
		kind, rest, _ := strings.Cut(c, " ")
		switch {
		case kind == "THREAD" && rest == "REFERENCES":
			ours = FormatThreads(References(msgs), false)
		case kind == "THREAD":
			ours = FormatThreads(OrderedSubject(msgs), false)
		default:
			var crit []Criterion
			rev := false
			for _, w := range strings.Fields(strings.Trim(rest, "()")) {
				if w == "REVERSE" {
					rev = true
					continue
				}
				k, _ := ParseKey(w)
				crit = append(crit, Criterion{Key: k, Reverse: rev})
				rev = false
			}
			ours = seqs(Sort(msgs, crit))
		}
		if ours != got[i] {
			t.Errorf("%s: C: a %s UTF-8 ALL\nDovecot: %s\nours:    %s", box, c, got[i], ours)
		}
	}
}
