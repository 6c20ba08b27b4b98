package imapclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// peer is a server under test: our imapserver or Dovecot.
type peer struct {
	name string
	addr string
	user string
	pass string
}

var mboxSeq atomic.Int64

// newMailbox creates a fresh mailbox with n messages and selects it.
func newMailbox(t *testing.T, c *Client, n int) string {
	t.Helper()
	ctx := testCtx(t)
	name := fmt.Sprintf("T%d-%d", time.Now().UnixNano()%1e6, mboxSeq.Add(1))
	if err := c.Create(ctx, name); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		m := msg(fmt.Sprintf("message %d", i), fmt.Sprintf("body of message %d", i))
		if _, err := c.Append(ctx, name, int64(len(m)), strings.NewReader(m), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Select(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	return name
}

// runSuite runs the command tests against one server. Each test uses its
// own mailbox, so they may share a server.
func runSuite(t *testing.T, p peer) {
	dial := func(t *testing.T, opts *Options) *Client { return login(t, p.addr, p.user, p.pass, opts) }

	t.Run("CapabilityNoop", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		caps, err := c.Capability(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !c.hasCap("IMAP4REV1") || len(caps) == 0 {
			t.Fatalf("caps %v", caps)
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		if c.State() != StateAuthenticated {
			t.Fatalf("state %v", c.State())
		}
	})

	t.Run("BadLogin", func(t *testing.T) {
		ctx := testCtx(t)
		c, err := Dial(ctx, p.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Login(ctx, p.user, "wrong")
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusNO {
			t.Fatalf("got %v, want NO", err)
		}
		// The connection is still usable.
		if err := c.Login(ctx, p.user, p.pass); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MailboxCommands", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		base := fmt.Sprintf("Box%d", mboxSeq.Add(1))
		name := base + " Grüße & co"
		if err := c.Create(ctx, name); err != nil {
			t.Fatal(err)
		}
		// RFC 9051 §6.3.4: creating an existing mailbox fails.
		if err := c.Create(ctx, name); err == nil {
			t.Fatal("second CREATE succeeded")
		}
		if err := c.Subscribe(ctx, name); err != nil {
			t.Fatal(err)
		}
		l, err := c.List(ctx, "", base+"*", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || l[0].Mailbox != name || l[0].Delim == 0 {
			t.Fatalf("LIST %+v", l)
		}
		l, err = c.List(ctx, "", base+"*", &ListOptions{SelectSubscribed: true, ReturnStatus: []imap.StatusItem{imap.StatusMessages}})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || l[0].Status == nil || l[0].Status.Messages == nil || *l[0].Status.Messages != 0 {
			t.Fatalf("LIST-STATUS %+v", l)
		}
		if err := c.Unsubscribe(ctx, name); err != nil {
			t.Fatal(err)
		}
		renamed := base + " renamed"
		if err := c.Rename(ctx, name, renamed); err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx, renamed, []imap.StatusItem{imap.StatusMessages, imap.StatusUIDNext, imap.StatusUIDValidity, imap.StatusUnseen})
		if err != nil {
			t.Fatal(err)
		}
		if st.Mailbox != renamed || st.Messages == nil || *st.Messages != 0 || st.UIDValidity == nil {
			t.Fatalf("STATUS %+v", st)
		}
		if err := c.Delete(ctx, renamed); err != nil {
			t.Fatal(err)
		}
		_, err = c.Status(ctx, renamed, []imap.StatusItem{imap.StatusMessages})
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusNO {
			t.Fatalf("STATUS of deleted mailbox: %v", err)
		}
		l, err = c.List(ctx, "", "*", &ListOptions{ReturnSpecialUse: true})
		if err != nil || len(l) == 0 {
			t.Fatalf("LIST RETURN (SPECIAL-USE): %v %v", l, err)
		}
	})

	t.Run("NamespaceID", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		ns, err := c.Namespace(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns.Personal) == 0 {
			t.Fatalf("NAMESPACE %+v", ns)
		}
		id, err := c.ID(ctx, map[string]string{"name": "posthorn"})
		if err != nil {
			t.Fatal(err)
		}
		if len(id) == 0 {
			t.Logf("server sent no ID data")
		}
	})

	t.Run("AppendFetch", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		name := newMailbox(t, c, 0)
		m := msg("hello", strings.Repeat("line of text\r\n", 500))
		when := time.Date(2024, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
		ad, err := c.Append(ctx, name, int64(len(m)), strings.NewReader(m), &AppendOptions{Flags: []imap.Flag{imap.FlagFlagged, "$Custom"}, Time: when})
		if err != nil {
			t.Fatal(err)
		}
		if ad.UID == 0 || ad.UIDValidity == 0 {
			t.Fatalf("APPENDUID %+v", ad)
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		if mb := c.Mailbox(); mb == nil || mb.NumMessages != 1 {
			t.Fatalf("mailbox state %+v", mb)
		}
		body := &imap.FetchSection{Peek: true}
		hdr := &imap.FetchSection{Peek: true, Specifier: imap.PartHeaderFields, Fields: []string{"Subject"}}
		msgs, err := c.UIDFetch(ctx, imap.NumSetOf(ad.UID), []imap.FetchAtt{
			{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchRFC822Size},
			{Item: imap.FetchInternalDate}, {Item: imap.FetchEnvelope}, {Item: imap.FetchBodyStructure},
			{Item: imap.FetchBodySection, Section: body}, {Item: imap.FetchBodySection, Section: hdr},
		}, nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("%d messages", len(msgs))
		}
		f := msgs[0]
		if f.UID != ad.UID || f.RFC822Size != int64(len(m)) || !imap.HasFlag(f.Flags, imap.FlagFlagged) || !imap.HasFlag(f.Flags, "$Custom") {
			t.Fatalf("fetched %+v", f)
		}
		if !f.InternalDate.Equal(when) {
			t.Errorf("INTERNALDATE %v, want %v", f.InternalDate, when)
		}
		if f.Envelope == nil || f.Envelope.Subject != "hello" || len(f.Envelope.From) != 1 || f.Envelope.From[0].Addr() != "alice@example.org" {
			t.Fatalf("ENVELOPE %+v", f.Envelope)
		}
		if f.BodyStructure == nil || !strings.EqualFold(f.BodyStructure.MediaType, "text") {
			t.Fatalf("BODYSTRUCTURE %+v", f.BodyStructure)
		}
		if got := f.Section(body); string(got) != m {
			t.Fatalf("BODY[] %d bytes, want %d", len(got), len(m))
		}
		if got := f.Section(hdr); !strings.HasPrefix(string(got), "Subject: hello\r\n") {
			t.Fatalf("BODY[HEADER.FIELDS (Subject)] %q", got)
		}
		// Streaming: the section is an io.Reader off the socket.
		fc := c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: body}, {Item: imap.FetchUID}}, nil)
		n := 0
		for fm := fc.Next(); fm != nil; fm = fc.Next() {
			for it := fm.Next(); it != nil; it = fm.Next() {
				if s, ok := it.(FetchItemBodySection); ok {
					data, err := io.ReadAll(s.Literal)
					if err != nil || string(data) != m {
						t.Fatalf("streamed section: %d bytes, %v", len(data), err)
					}
					n++
				}
			}
		}
		if err := fc.Close(); err != nil || n != 1 {
			t.Fatalf("stream: %v, %d sections", err, n)
		}
	})

	t.Run("SearchStoreExpunge", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		newMailbox(t, c, 5)
		sd, err := c.Search(ctx, &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchSubject, Value: "message 3"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Nums) != 1 || sd.Nums[0] != 3 {
			t.Fatalf("SEARCH %+v", sd)
		}
		if c.hasCap("ESEARCH") {
			sd, err = c.UIDSearch(ctx, &imap.SearchCriteria{HasReturn: true, Return: []imap.SearchReturn{imap.SearchReturnAll, imap.SearchReturnCount, imap.SearchReturnMin, imap.SearchReturnMax}, Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
			if err != nil {
				t.Fatal(err)
			}
			if sd.Count != 5 || sd.Min == 0 || sd.Max < sd.Min || sd.All.Count(0) != 5 {
				t.Fatalf("ESEARCH %+v", sd)
			}
		}
		stored, err := c.Store(ctx, imap.NumSetOf(2, 4), StoreFlags{Op: StoreAdd, Flags: []imap.Flag{imap.FlagDeleted, imap.FlagSeen}})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored.Messages) != 2 || !imap.HasFlag(stored.Messages[0].Flags, imap.FlagDeleted) {
			t.Fatalf("STORE %+v", stored.Messages)
		}
		if _, err := c.Store(ctx, imap.NumSetOf(2), StoreFlags{Op: StoreRemove, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}); err != nil {
			t.Fatal(err)
		}
		sd, err = c.Search(ctx, &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchDeleted}}})
		if err != nil || len(sd.Nums) != 2 {
			t.Fatalf("SEARCH DELETED %+v %v", sd, err)
		}
		ed, err := c.Expunge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ed.SeqNums) != 2 {
			t.Fatalf("EXPUNGE %+v", ed)
		}
		if mb := c.Mailbox(); mb.NumMessages != 3 {
			t.Fatalf("after EXPUNGE: %d messages", mb.NumMessages)
		}
		// UID EXPUNGE removes only the given UIDs (RFC 4315 §2.1).
		all, err := c.Fetch(ctx, imap.NumSetOf(1, 2, 3), []imap.FetchAtt{{Item: imap.FetchUID}}, nil).Collect()
		if err != nil || len(all) != 3 {
			t.Fatal(all, err)
		}
		if _, err := c.Store(ctx, imap.NumSetOf(1, 2), StoreFlags{Op: StoreAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UIDExpunge(ctx, imap.UIDSet{NumSet: imap.NumSetOf(all[0].UID)}); err != nil {
			t.Fatal(err)
		}
		if mb := c.Mailbox(); mb.NumMessages != 2 {
			t.Fatalf("after UID EXPUNGE: %d messages", mb.NumMessages)
		}
		if err := c.Unselect(ctx); err != nil {
			t.Fatal(err)
		}
		if c.Mailbox() != nil || c.State() != StateAuthenticated {
			t.Fatal("still selected after UNSELECT")
		}
	})

	t.Run("CopyMove", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		src := newMailbox(t, c, 3)
		dst := src + "-dst"
		if err := c.Create(ctx, dst); err != nil {
			t.Fatal(err)
		}
		cd, err := c.Copy(ctx, imap.NumSetOf(1), dst)
		if err != nil {
			t.Fatal(err)
		}
		if cd.UIDValidity == 0 || cd.DestUIDs.IsZero() {
			t.Fatalf("COPYUID %+v", cd)
		}
		// Mark message 3 deleted: a MOVE fallback must not expunge it.
		if _, err := c.Store(ctx, imap.NumSetOf(3), StoreFlags{Op: StoreAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}); err != nil {
			t.Fatal(err)
		}
		md, err := c.Move(ctx, imap.NumSetOf(2), dst)
		if err != nil {
			t.Fatal(err)
		}
		if md.DestUIDs.IsZero() {
			t.Fatalf("MOVE COPYUID %+v", md)
		}
		if mb := c.Mailbox(); mb.NumMessages != 2 {
			t.Fatalf("after MOVE: %d messages", mb.NumMessages)
		}
		st, err := c.Status(ctx, dst, []imap.StatusItem{imap.StatusMessages})
		if err != nil || *st.Messages != 2 {
			t.Fatalf("STATUS dst %+v %v", st, err)
		}
		// CLOSE expunges the \Deleted message 3 silently.
		if err := c.CloseMailbox(ctx); err != nil {
			t.Fatal(err)
		}
		st, err = c.Status(ctx, src, []imap.StatusItem{imap.StatusMessages})
		if err != nil || *st.Messages != 1 {
			t.Fatalf("STATUS src %+v %v", st, err)
		}
	})

	t.Run("MoveFallback", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		src := newMailbox(t, c, 3)
		dst := src + "-dst"
		if err := c.Create(ctx, dst); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Store(ctx, imap.NumSetOf(3), StoreFlags{Op: StoreAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}); err != nil {
			t.Fatal(err)
		}
		// Pretend the server lacks MOVE.
		c.mu.Lock()
		delete(c.caps, "MOVE")
		c.mu.Unlock()
		if _, err := c.Move(ctx, imap.NumSetOf(1), dst); err != nil {
			t.Fatal(err)
		}
		// Message 3 (\Deleted by the user) must survive the fallback.
		if mb := c.Mailbox(); mb.NumMessages != 2 {
			t.Fatalf("after fallback MOVE: %d messages", mb.NumMessages)
		}
		sd, err := c.Search(ctx, &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchDeleted}}})
		if err != nil || len(sd.Nums) != 1 {
			t.Fatalf("deleted messages after fallback: %+v %v", sd, err)
		}
	})

	t.Run("Pipelining", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		newMailbox(t, c, 10)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= 5; i++ {
					seq := uint32((g+i)%10 + 1)
					msgs, err := c.Fetch(ctx, imap.NumSetOf(seq), []imap.FetchAtt{{Item: imap.FetchEnvelope}, {Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true, Specifier: imap.PartText}}}, nil).Collect()
					if err != nil {
						errs <- err
						return
					}
					want := fmt.Sprintf("message %d", seq)
					if len(msgs) != 1 || msgs[0].Envelope.Subject != want || !bytes.Contains(msgs[0].BodySections[0].Bytes, []byte("body of "+want)) {
						errs <- fmt.Errorf("goroutine %d got %+v for %d", g, msgs, seq)
						return
					}
					if _, err := c.Status(ctx, "INBOX", []imap.StatusItem{imap.StatusMessages}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("Idle", func(t *testing.T) {
		exists := make(chan uint32, 10)
		c := dial(t, &Options{Handler: &Handler{Exists: func(n uint32) { exists <- n }}})
		ctx := testCtx(t)
		name := newMailbox(t, c, 1)
		for len(exists) > 0 {
			<-exists
		}
		other := dial(t, nil)
		idleCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.IdleLoop(idleCtx, nil) }()
		time.Sleep(100 * time.Millisecond) // let IDLE start
		m := msg("new", "new mail")
		if _, err := other.Append(ctx, name, int64(len(m)), strings.NewReader(m), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-exists:
			if n != 2 {
				t.Fatalf("EXISTS %d", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no EXISTS during IDLE")
		}
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("IdleLoop returned %v", err)
		}
		// Cancelling IDLE left the connection usable.
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		if mb := c.Mailbox(); mb.NumMessages != 2 {
			t.Fatalf("state %d messages", mb.NumMessages)
		}
	})

	t.Run("CancelFetch", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		name := newMailbox(t, c, 0)
		big := msg("big", strings.Repeat(strings.Repeat("x", 998)+"\r\n", 1000)) // ~1 MB
		for i := 0; i < 8; i++ {
			if _, err := c.Append(ctx, name, int64(len(big)), strings.NewReader(big), nil); err != nil {
				t.Fatal(err)
			}
		}
		fctx, cancel := context.WithCancel(ctx)
		fc := c.Fetch(fctx, imap.NumSetOf(1, 2, 3, 4, 5, 6, 7, 8), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}}, nil)
		m := fc.Next()
		if m == nil {
			t.Fatal("no message")
		}
		it := m.Next().(FetchItemBodySection)
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(it.Literal, buf); err != nil {
			t.Fatal(err)
		}
		cancel()
		if fc.Next() != nil {
			// One more message may already be on its way; not more.
			if fc.Next() != nil {
				t.Fatal("messages after cancellation")
			}
		}
		if err := fc.Close(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close: %v", err)
		}
		// The rest was drained: the connection works.
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx, "INBOX", []imap.StatusItem{imap.StatusMessages})
		if err != nil || st.Messages == nil {
			t.Fatal(st, err)
		}
	})

	t.Run("CancelAppend", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		name := newMailbox(t, c, 0)
		actx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("Subject: x\r\n\r\n"))
			time.Sleep(200 * time.Millisecond)
			cancel()
			pw.Write([]byte("more"))
			pw.Close()
		}()
		_, err := c.Append(actx, name, 1<<20, pr, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Append: %v", err)
		}
		// The literal was cut short: the connection is closed, not wedged.
		select {
		case <-c.Closed():
		case <-time.After(5 * time.Second):
			t.Fatal("connection not closed")
		}
		if err := c.Noop(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("NOOP after cancelled APPEND: %v", err)
		}
	})

	t.Run("Logout", func(t *testing.T) {
		c := dial(t, nil)
		ctx := testCtx(t)
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("NOOP after LOGOUT: %v", err)
		}
	})
}

func TestOurServer(t *testing.T) {
	s := startServer(t)
	runSuite(t, peer{name: "posthorn", addr: s.addr, user: "alice", pass: "alicepw"})
}

func TestDovecot(t *testing.T) {
	d := sharedDovecot(t)
	runSuite(t, peer{name: "dovecot", addr: d.IMAP, user: "alice", pass: "alicepw"})
}
