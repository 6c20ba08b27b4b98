package imapclient

import (
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// Extensions Dovecot offers: SORT (RFC 5256), ESEARCH (RFC 4731),
// CONDSTORE STORE UNCHANGEDSINCE (RFC 7162 §3.1.3).
func TestDovecotExtensions(t *testing.T) {
	d := sharedDovecot(t)
	c := login(t, d.IMAP, "bob", "bobpw", nil)
	ctx := testCtx(t)
	newMailbox(t, c, 4)

	t.Run("SORT", func(t *testing.T) {
		sd, err := c.Sort(ctx, false, []string{"REVERSE", "SUBJECT"}, "", &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Nums) != 4 || sd.Nums[0] != 4 || sd.Nums[3] != 1 {
			t.Fatalf("SORT %v", sd.Nums)
		}
		sd, err = c.Sort(ctx, true, []string{"SUBJECT"}, "UTF-8", &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
		if err != nil || len(sd.Nums) != 4 {
			t.Fatalf("UID SORT %v %v", sd, err)
		}
	})

	t.Run("ESEARCH", func(t *testing.T) {
		sd, err := c.Search(ctx, &imap.SearchCriteria{HasReturn: true, Return: []imap.SearchReturn{imap.SearchReturnMin, imap.SearchReturnMax, imap.SearchReturnCount}, Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
		if err != nil {
			t.Fatal(err)
		}
		if sd.Min != 1 || sd.Max != 4 || sd.Count != 4 {
			t.Fatalf("ESEARCH %+v", sd)
		}
	})

	t.Run("UNCHANGEDSINCE", func(t *testing.T) {
		msgs, err := c.Fetch(ctx, imap.NumSetOf(1, 2), []imap.FetchAtt{{Item: imap.FetchModSeq}}, nil).Collect()
		if err != nil || len(msgs) != 2 || msgs[0].ModSeq == 0 {
			t.Fatalf("MODSEQ %+v %v", msgs, err)
		}
		// Change message 2 so its mod-sequence moves past what we saw.
		if _, err := c.Store(ctx, imap.NumSetOf(2), StoreFlags{Op: StoreAdd, Silent: true, Flags: []imap.Flag{"$x"}}); err != nil {
			t.Fatal(err)
		}
		since := max(msgs[0].ModSeq, msgs[1].ModSeq)
		st, err := c.Store(ctx, imap.NumSetOf(1, 2), StoreFlags{Op: StoreAdd, Flags: []imap.Flag{imap.FlagFlagged}, UnchangedSince: since})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Modified.Contains(2, 0) || st.Modified.Contains(1, 0) {
			t.Fatalf("MODIFIED %v", st.Modified)
		}
	})
}

// QUOTA (RFC 9208), METADATA (RFC 5464) and THREAD (RFC 5256) against
// Dovecot.
func TestDovecotQuotaMetadataThread(t *testing.T) {
	d := sharedDovecot(t)
	c := login(t, d.IMAP, "bob", "bobpw", nil)
	ctx := testCtx(t)
	name := newMailbox(t, c, 3)

	t.Run("QUOTA", func(t *testing.T) {
		if !c.Has(ctx, "QUOTA") {
			t.Skip("QUOTA not offered")
		}
		roots, quotas, err := c.GetQuotaRoot(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if len(roots) == 0 || len(quotas) == 0 {
			t.Fatalf("roots %v quotas %v", roots, quotas)
		}
		st, ok := quotas[0].Resources["STORAGE"]
		if !ok || st.Limit != 100*1024 || st.Usage <= 0 {
			t.Fatalf("STORAGE %+v", quotas[0])
		}
		q, err := c.GetQuota(ctx, quotas[0].Root)
		if err != nil || q.Resources["STORAGE"].Limit != st.Limit {
			t.Fatalf("GETQUOTA %+v %v", q, err)
		}
	})

	t.Run("METADATA", func(t *testing.T) {
		if !c.Has(ctx, "METADATA") {
			t.Skip("METADATA not offered")
		}
		v := "a comment\r\nwith two lines"
		if err := c.SetMetadata(ctx, name, map[string]*string{"/private/comment": &v}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetMetadata(ctx, name, "/private/comment", "/shared/nothing")
		if err != nil {
			t.Fatal(err)
		}
		if got["/private/comment"] != v {
			t.Fatalf("GETMETADATA %q", got)
		}
		if err := c.SetMetadata(ctx, name, map[string]*string{"/private/comment": nil}); err != nil {
			t.Fatal(err)
		}
		got, err = c.GetMetadata(ctx, name, "/private/comment")
		if err != nil || len(got) != 0 {
			t.Fatalf("after removal %q %v", got, err)
		}
	})

	t.Run("THREAD", func(t *testing.T) {
		if !c.Has(ctx, "THREAD=REFERENCES") {
			t.Skip("THREAD=REFERENCES not offered")
		}
		threads, err := c.Thread(ctx, false, "REFERENCES", "", &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(threads) != 3 || threads[0].Num == 0 {
			t.Fatalf("THREAD %+v", threads)
		}
	})
}

func TestParseThread(t *testing.T) {
	// RFC 5256 §4 example: (2)(3 6 (4 23)(44 7 96))
	l := []Value{"3", "6", []Value{"4", "23"}, []Value{"44", "7", "96"}}
	n := parseThread(l)
	if n.Num != 3 || len(n.Children) != 1 || n.Children[0].Num != 6 || len(n.Children[0].Children) != 2 ||
		n.Children[0].Children[1].Children[0].Num != 7 {
		t.Fatalf("%+v", n)
	}
}
