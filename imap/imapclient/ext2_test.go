package imapclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// testMoreExtensions covers the commands and extensions of issue 8's
// scope that runSuite does not, each where the server offers it: BINARY
// fetch and APPEND (RFC 3516), SEARCHRES (RFC 5182), STATUS=SIZE
// (RFC 8438), APPENDLIMIT (RFC 7889), CHILDREN and LIST-EXTENDED
// (RFC 3348, RFC 5258), CREATE-SPECIAL-USE (RFC 6154), UTF8=ACCEPT
// (RFC 6855), and IMAP4rev1's CHECK and LSUB (RFC 3501).
func testMoreExtensions(t *testing.T, p peer) {
	dial := func(t *testing.T) *Client { return login(t, p.addr, p.user, p.pass, nil) }
	need := func(t *testing.T, c *Client, capability string) {
		t.Helper()
		if !c.Has(testCtx(t), capability) {
			t.Skipf("%s does not offer %s", p.name, capability)
		}
	}

	t.Run("BINARY", func(t *testing.T) {
		c := dial(t)
		need(t, c, "BINARY")
		ctx := testCtx(t)
		name := newMailbox(t, c, 0)
		data := []byte("binary\x00data\xff\r\n")
		m := "Subject: binary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString(data) + "\r\n"
		ad, err := c.Append(ctx, name, int64(len(m)), strings.NewReader(m), &AppendOptions{Binary: true})
		if err != nil {
			t.Fatal(err)
		}
		sec := &imap.FetchSection{Binary: true, Peek: true, Part: []uint32{1}}
		msgs, err := c.UIDFetch(ctx, imap.NumSetOf(ad.UID), []imap.FetchAtt{
			{Item: imap.FetchBinarySection, Section: sec},
			{Item: imap.FetchBinarySize, Section: &imap.FetchSection{Binary: true, Size: true, Part: []uint32{1}}},
		}, nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || string(msgs[0].Section(sec)) != string(data) {
			t.Fatalf("BINARY[1] %+v", msgs)
		}
		if len(msgs[0].BinarySizes) != 1 || msgs[0].BinarySizes[0].Size != int64(len(data)) {
			t.Fatalf("BINARY.SIZE[1] %+v", msgs[0].BinarySizes)
		}
	})

	t.Run("SEARCHRES", func(t *testing.T) {
		c := dial(t)
		need(t, c, "SEARCHRES")
		ctx := testCtx(t)
		newMailbox(t, c, 4)
		_, err := c.UIDSearch(ctx, &imap.SearchCriteria{HasReturn: true, Return: []imap.SearchReturn{imap.SearchReturnSave},
			Keys: []imap.SearchKey{{Op: imap.SearchSubject, Value: "message 3"}}})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := c.UIDFetch(ctx, imap.SearchResSet(), []imap.FetchAtt{{Item: imap.FetchEnvelope}}, nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].Envelope.Subject != "message 3" {
			t.Fatalf("UID FETCH $: %+v", msgs)
		}
	})

	t.Run("STATUS=SIZE", func(t *testing.T) {
		c := dial(t)
		need(t, c, "STATUS=SIZE")
		ctx := testCtx(t)
		name := newMailbox(t, c, 2)
		c.Unselect(ctx)
		st, err := c.Status(ctx, name, []imap.StatusItem{imap.StatusSize, imap.StatusMessages})
		if err != nil {
			t.Fatal(err)
		}
		if st.Size == nil || *st.Size < 200 || *st.Messages != 2 {
			t.Fatalf("STATUS SIZE %+v", st)
		}
	})

	t.Run("APPENDLIMIT", func(t *testing.T) {
		c := dial(t)
		ctx := testCtx(t)
		limit := ""
		for _, s := range c.Caps() {
			if v, ok := strings.CutPrefix(s, "APPENDLIMIT"); ok {
				limit = v
			}
		}
		if limit == "" && !c.Has(ctx, "APPENDLIMIT") {
			t.Skipf("%s does not offer APPENDLIMIT", p.name)
		}
		st, err := c.Status(ctx, "INBOX", []imap.StatusItem{imap.StatusAppendLimit})
		if err != nil {
			t.Fatal(err)
		}
		if limit != "" && (st.AppendLimit == nil || "="+fmt.Sprint(*st.AppendLimit) != limit) {
			t.Fatalf("STATUS APPENDLIMIT %v, capability APPENDLIMIT%s", st.AppendLimit, limit)
		}
	})

	t.Run("CHILDREN", func(t *testing.T) {
		c := dial(t)
		ctx := testCtx(t)
		parent := fmt.Sprintf("Parent%d", mboxSeq.Add(1))
		l, err := c.List(ctx, "", "", nil)
		if err != nil || len(l) != 1 || l[0].Delim == 0 {
			t.Fatalf("delimiter: %+v %v", l, err)
		}
		child := parent + string(l[0].Delim) + "child"
		if err := c.Create(ctx, child); err != nil {
			t.Fatal(err)
		}
		l, err = c.List(ctx, "", parent, &ListOptions{ReturnChildren: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || !slices.Contains(l[0].Attrs, imap.AttrHasChildren) {
			t.Fatalf("LIST RETURN (CHILDREN) %+v", l)
		}
		if err := c.Subscribe(ctx, child); err != nil {
			t.Fatal(err)
		}
		// RFC 5258 §3.5: CHILDINFO for a parent with a subscribed child.
		l, err = c.List(ctx, "", parent, &ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || !slices.Contains(l[0].ChildInfo, "SUBSCRIBED") {
			t.Fatalf("LIST (SUBSCRIBED RECURSIVEMATCH) %+v", l)
		}
		// IMAP4rev1 LSUB (RFC 3501 §6.3.9).
		if c.hasCap("IMAP4REV1") {
			l, err = c.Lsub(ctx, "", parent+"*")
			if err != nil {
				t.Fatal(err)
			}
			if len(l) != 1 || l[0].Mailbox != child {
				t.Fatalf("LSUB %+v", l)
			}
		}
	})

	t.Run("CREATE-SPECIAL-USE", func(t *testing.T) {
		c := dial(t)
		need(t, c, "CREATE-SPECIAL-USE")
		ctx := testCtx(t)
		name := fmt.Sprintf("Flagged%d", mboxSeq.Add(1))
		err := c.Create(ctx, name, imap.AttrFlagged)
		if errors.Is(err, &imap.Error{Code: imap.CodeUseAttr}) {
			t.Skipf("%s refuses another \\Flagged mailbox: %v", p.name, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.List(ctx, "", name, &ListOptions{ReturnSpecialUse: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || !slices.Contains(l[0].Attrs, imap.AttrFlagged) {
			t.Fatalf("LIST RETURN (SPECIAL-USE) %+v", l)
		}
	})

	t.Run("UTF8=ACCEPT", func(t *testing.T) {
		c := dial(t)
		need(t, c, "UTF8=ACCEPT")
		ctx := testCtx(t)
		if _, err := c.Enable(ctx, "UTF8=ACCEPT"); err != nil {
			t.Fatal(err)
		}
		if !c.Enabled("UTF8=ACCEPT") {
			t.Fatal("UTF8=ACCEPT not enabled")
		}
		name := fmt.Sprintf("Grüße %d 日本", mboxSeq.Add(1))
		if err := c.Create(ctx, name); err != nil {
			t.Fatal(err)
		}
		l, err := c.List(ctx, "", name, nil)
		if err != nil || len(l) != 1 || l[0].Mailbox != name {
			t.Fatalf("LIST %+v %v", l, err)
		}
	})

	t.Run("CHECK", func(t *testing.T) {
		c := dial(t)
		need(t, c, "IMAP4rev1")
		newMailbox(t, c, 1)
		if err := c.Check(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOurServerMoreExtensions(t *testing.T) {
	s := startServer(t)
	testMoreExtensions(t, peer{name: "posthorn", addr: s.addr, user: "alice", pass: "alicepw"})
}

func TestDovecotMoreExtensions(t *testing.T) {
	d := sharedDovecot(t)
	testMoreExtensions(t, peer{name: "dovecot", addr: d.IMAP, user: "alice", pass: "alicepw"})
}

// RFC 9208 §4.1.3: SETQUOTA, where the server lets the user set limits.
func TestWireSetQuota(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 QUOTA QUOTASET] ready
		C: T1 SETQUOTA "" (MESSAGE 500 STORAGE 512)
		S: * QUOTA "" (STORAGE 10 512 MESSAGE 3 500)
		S: T1 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := c.SetQuota(ctx, "", map[string]int64{"STORAGE": 512, "MESSAGE": 500})
	if err != nil {
		t.Fatal(err)
	}
	if q.Resources["STORAGE"].Limit != 512 || q.Resources["MESSAGE"].Usage != 3 {
		t.Fatalf("QUOTA %+v", q)
	}
	checkScript(t, errc)
}
