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
