package imapwire

import (
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// RFC 4731 §3.1 and RFC 9051 §7.3.4 examples.
func TestAppendESearch(t *testing.T) {
	c := &imap.SearchCriteria{HasReturn: true, Return: []imap.SearchReturn{imap.SearchReturnMin, imap.SearchReturnCount}}
	d := &imap.SearchData{Tag: "A282", Min: 2, Count: 3}
	if got := string(AppendESearch(nil, d, c)); got != `ESEARCH (TAG "A282") MIN 2 COUNT 3` {
		t.Errorf("got %s", got)
	}
	c = &imap.SearchCriteria{HasReturn: true}
	d = &imap.SearchData{Tag: "A283", UID: true, All: imap.NumSetOf(2, 10, 11)}
	if got := string(AppendESearch(nil, d, c)); got != `ESEARCH (TAG "A283") UID ALL 2,10:11` {
		t.Errorf("got %s", got)
	}
	d = &imap.SearchData{Tag: "A284"}
	if got := string(AppendESearch(nil, d, c)); got != `ESEARCH (TAG "A284")` {
		t.Errorf("got %s", got)
	}
}

func TestAppendStatus(t *testing.T) {
	n, u := uint32(231), uint32(44292)
	size := int64(12345)
	s := &imap.StatusData{Mailbox: "blurdybloop", Messages: &n, UIDNext: &u, Size: &size}
	if got := string(AppendStatus(nil, s, false)); got != `STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 SIZE 12345)` {
		t.Errorf("got %s", got)
	}
}
