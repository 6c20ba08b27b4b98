package imap

import (
	"errors"
	"fmt"
	"testing"
)

func TestFlags(t *testing.T) {
	if !Flag(`\SEEN`).IsSystem() || Flag(`\Foo`).IsSystem() || Flag("Seen").IsSystem() {
		t.Error("IsSystem")
	}
	if Flag(`\deleted`).Canonical() != FlagDeleted {
		t.Error("Canonical")
	}
	for s, want := range map[string]bool{"$Forwarded": true, "foo": true, "": false, `\Seen`: false, "a b": false, "a]": false, "a(": false, "ä": false} {
		if ValidKeyword(s) != want {
			t.Errorf("ValidKeyword(%q) = %v", s, !want)
		}
	}
	if ValidStoreFlag(FlagRecent) || !ValidStoreFlag(`\seen`) || ValidStoreFlag(`\Foo`) {
		t.Error("ValidStoreFlag")
	}
	l := AddFlags(nil, `\seen`, "$Junk", FlagSeen)
	if fmt.Sprint(l) != `[\Seen $Junk]` {
		t.Errorf("AddFlags = %v", l)
	}
	l = RemoveFlags(l, "$junk")
	if fmt.Sprint(l) != `[\Seen]` {
		t.Errorf("RemoveFlags = %v", l)
	}
}

func TestError(t *testing.T) {
	var err error = fmt.Errorf("append: %w", &Error{Type: StatusNO, Code: CodeTryCreate, Text: "no such mailbox"})
	var ie *Error
	if !errors.As(err, &ie) || ie.Code != CodeTryCreate {
		t.Fatal("errors.As")
	}
	if !errors.Is(err, &Error{Code: CodeTryCreate}) || errors.Is(err, &Error{Type: StatusBAD}) {
		t.Error("errors.Is")
	}
	if got := ie.Error(); got != "imap: NO [TRYCREATE] no such mailbox" {
		t.Errorf("Error() = %q", got)
	}
	e := &Error{Type: StatusNO, Code: CodeAppendUID, CodeArg: "38505 3955"}
	if got := e.Error(); got != "imap: NO [APPENDUID 38505 3955]" {
		t.Errorf("Error() = %q", got)
	}
}

func TestFetchSectionName(t *testing.T) {
	s := &FetchSection{Peek: true, Part: []uint32{1, 2}, Specifier: PartHeaderFields, Fields: []string{"From", "X Y"}, Partial: &Partial{0, 10}}
	if got := string(s.AppendSectionName(nil)); got != `BODY[1.2.HEADER.FIELDS (From "X Y")]<0>` {
		t.Errorf("name = %q", got)
	}
	if got := s.String(); got != `BODY.PEEK[1.2.HEADER.FIELDS (From "X Y")]<0.10>` {
		t.Errorf("String = %q", got)
	}
}
