package smtpqueue

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/smtp/smtptest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every attempt is logged with its message, recipient, destination,
// outcome and reply; the message itself never is.
func TestAttemptLog(t *testing.T) {
	var buf syncBuffer
	h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(451, "4.3.0 try later"),
		When: func(a *smtptest.Attempt) bool { return a.To == "carol@one.test" }})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test", "carol@one.test"}}, testMsg)
	h.attempted(id, 1)
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec["msg"] == "smtpqueue: attempt" {
			got[rec["rcpt"].(string)] = rec
		}
	}
	bob, carol := got["bob@one.test"], got["carol@one.test"]
	if bob == nil || carol == nil {
		t.Fatalf("attempt records: %v", got)
	}
	if bob["id"] != id || bob["dest"] != "one.test" || bob["outcome"] != "delivered" || bob["level"] != "INFO" {
		t.Errorf("bob: %v", bob)
	}
	if carol["outcome"] != "deferred" || carol["reply"] != "451 4.3.0 try later" || carol["level"] != "WARN" || carol["attempt"] != float64(1) {
		t.Errorf("carol: %v", carol)
	}
	if strings.Contains(buf.String(), "Hi Bob!") {
		t.Error("the message body was logged")
	}
}
