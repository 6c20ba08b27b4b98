package imap

import "time"

// SearchOp is the kind of a search key (RFC 9051 §6.4.4).
type SearchOp uint8

// Search keys. Keys without arguments test flags or message state; the
// comment names the argument field a key uses.
const (
	SearchAll        SearchOp = iota + 1
	SearchAnswered            // flag \Answered
	SearchBcc                 // Value
	SearchBefore              // Date (internal date)
	SearchBody                // Value
	SearchCc                  // Value
	SearchDeleted             // flag \Deleted
	SearchDraft               // flag \Draft
	SearchFlagged             // flag \Flagged
	SearchFrom                // Value
	SearchHeader              // Field, Value
	SearchKeyword             // Flag
	SearchLarger              // Num (RFC822.SIZE)
	SearchNew                 // IMAP4rev1: RECENT UNSEEN
	SearchNot                 // Sub[0]
	SearchOld                 // IMAP4rev1: NOT RECENT
	SearchOn                  // Date (internal date)
	SearchOr                  // Sub[0], Sub[1]
	SearchRecent              // IMAP4rev1: flag \Recent
	SearchSeen                // flag \Seen
	SearchSentBefore          // Date (Date header)
	SearchSentOn              // Date (Date header)
	SearchSentSince           // Date (Date header)
	SearchSince               // Date (internal date)
	SearchSmaller             // Num (RFC822.SIZE)
	SearchSubject             // Value
	SearchText                // Value (header and body)
	SearchTo                  // Value
	SearchUID                 // Set (UIDs)
	SearchUnanswered
	SearchUndeleted
	SearchUndraft
	SearchUnflagged
	SearchUnkeyword // Flag
	SearchUnseen
	SearchSeqSet // Set (sequence numbers)
	SearchAnd    // Sub: a parenthesised list, all must match
	// SearchModSeq is MODSEQ [entry-name entry-type] mod-sequence
	// (RFC 7162 §3.1.5): Num is the mod-sequence; ModSeqEntry and
	// ModSeqType (all, shared, priv) are set when the optional pair is given.
	SearchModSeq
	// SearchOlder and SearchYounger are the WITHIN extension (RFC 5032):
	// Num is an interval in seconds.
	SearchOlder
	SearchYounger
)

var searchOpNames = [...]string{
	SearchAll: "ALL", SearchAnswered: "ANSWERED", SearchBcc: "BCC", SearchBefore: "BEFORE",
	SearchBody: "BODY", SearchCc: "CC", SearchDeleted: "DELETED", SearchDraft: "DRAFT",
	SearchFlagged: "FLAGGED", SearchFrom: "FROM", SearchHeader: "HEADER", SearchKeyword: "KEYWORD",
	SearchLarger: "LARGER", SearchNew: "NEW", SearchNot: "NOT", SearchOld: "OLD", SearchOn: "ON",
	SearchOr: "OR", SearchRecent: "RECENT", SearchSeen: "SEEN", SearchSentBefore: "SENTBEFORE",
	SearchSentOn: "SENTON", SearchSentSince: "SENTSINCE", SearchSince: "SINCE", SearchSmaller: "SMALLER",
	SearchSubject: "SUBJECT", SearchText: "TEXT", SearchTo: "TO", SearchUID: "UID",
	SearchUnanswered: "UNANSWERED", SearchUndeleted: "UNDELETED", SearchUndraft: "UNDRAFT",
	SearchUnflagged: "UNFLAGGED", SearchUnkeyword: "UNKEYWORD", SearchUnseen: "UNSEEN",
	SearchSeqSet: "", SearchAnd: "", SearchModSeq: "MODSEQ", SearchOlder: "OLDER", SearchYounger: "YOUNGER",
}

// String returns the key's name as written in a command ("" for a bare
// sequence set and a parenthesised list).
func (op SearchOp) String() string {
	if int(op) < len(searchOpNames) {
		return searchOpNames[op]
	}
	return ""
}

// SearchOpByName returns the key named name (upper case, as produced by
// the decoder), or 0 when unknown.
func SearchOpByName(name string) SearchOp {
	for op, n := range searchOpNames {
		if n != "" && n == name {
			return SearchOp(op)
		}
	}
	return 0
}

// SearchKey is one node of a search program. Which fields are used depends
// on Op (see the SearchOp constants).
type SearchKey struct {
	Op    SearchOp
	Field string // HEADER field name
	Value string // string argument (already converted to UTF-8 from CHARSET)
	Flag  Flag   // KEYWORD, UNKEYWORD
	// Date is a date argument: midnight UTC of the day given. Comparisons
	// use the date only, in the message's own time zone for the Date header
	// and the server's for internal dates (RFC 9051 §6.4.4).
	Date time.Time
	Num  uint64 // LARGER, SMALLER, MODSEQ, OLDER, YOUNGER
	Set  NumSet // UID, sequence set
	Sub  []SearchKey
	// ModSeqEntry and ModSeqType are MODSEQ's optional metadata item, e.g.
	// "/flags/\\Seen" and "all" (RFC 7162 §3.1.5).
	ModSeqEntry, ModSeqType string
}

// SearchReturn is an ESEARCH result option (RFC 4731 §3.1, RFC 5182 §2.1).
type SearchReturn string

// Search return options.
const (
	SearchReturnMin   SearchReturn = "MIN"
	SearchReturnMax   SearchReturn = "MAX"
	SearchReturnAll   SearchReturn = "ALL"
	SearchReturnCount SearchReturn = "COUNT"
	SearchReturnSave  SearchReturn = "SAVE" // RFC 5182
)

// SearchCriteria is a parsed SEARCH (or UID SEARCH) command argument.
type SearchCriteria struct {
	// Return holds the RETURN options (RFC 4731). HasReturn is true when a
	// RETURN clause was given, even empty "RETURN ()", which means ALL and
	// an ESEARCH response.
	Return    []SearchReturn
	HasReturn bool
	// Charset is the CHARSET argument, upper-cased; empty when absent.
	// String values are already converted to UTF-8.
	Charset string
	// Keys are the search keys; a message matches when all match.
	Keys []SearchKey
}

// Returns reports whether the RETURN clause asked for option r. An empty
// RETURN () means ALL (RFC 4731 §3.1).
func (c *SearchCriteria) Returns(r SearchReturn) bool {
	if c.HasReturn && len(c.Return) == 0 {
		return r == SearchReturnAll
	}
	for _, x := range c.Return {
		if x == r {
			return true
		}
	}
	return false
}

// Walk calls fn for every key of the program, depth first, stopping when fn
// returns false.
func (c *SearchCriteria) Walk(fn func(*SearchKey) bool) {
	var walk func(keys []SearchKey) bool
	walk = func(keys []SearchKey) bool {
		for i := range keys {
			if !fn(&keys[i]) || !walk(keys[i].Sub) {
				return false
			}
		}
		return true
	}
	walk(c.Keys)
}

// SearchData is the result of a SEARCH as an ESEARCH response carries it
// (RFC 4731 §3.1, RFC 9051 §7.3.4): only the fields asked for with RETURN
// are meaningful.
type SearchData struct {
	// Tag is the tag of the command that produced the result (the
	// search-correlator), empty when none.
	Tag string
	// UID is true when the numbers are UIDs (UID SEARCH).
	UID bool
	// Min and Max are the lowest and highest matching numbers, 0 when none
	// matched.
	Min, Max uint32
	// All holds every matching number, compactly (RETURN (ALL)).
	All NumSet
	// Count is the number of matches.
	Count uint32
	// ModSeq is the highest mod-sequence of the matches when the search
	// used MODSEQ (RFC 7162 §3.1.5), else 0.
	ModSeq uint64
}
