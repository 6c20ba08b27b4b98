package imapserver

import (
	"slices"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapsort"
)

// SORT and THREAD (RFC 5256), ESORT (RFC 5267) and SORT=DISPLAY
// (RFC 5957), with CONDSTORE's MODSEQ key (RFC 7162 §3.1.9, §3.1.10). The search program is SEARCH's (imapwire's parser, imapmsg's
// Matcher); ordering and threading are imap/internal/imapsort's, over the
// header keys cached with each message's parse (parsedMsg.sortKeys), so a
// repeated SORT or THREAD of a large mailbox parses no header. Collation
// is i;ascii-casemap (see imapsort), so I18NLEVEL is not advertised.
// CONTEXT=SORT (RFC 5267 §4, incremental updates) is not implemented.

// sortCharsets are the charsets SORT and THREAD accept (RFC 5256 §3: at
// least US-ASCII and UTF-8); others get NO [BADCHARSET (US-ASCII UTF-8)].
const sortCharsets = "(US-ASCII UTF-8)"

// maxSortCriteria bounds the sort program.
const maxSortCriteria = 16

// SORT (RFC 5256 §3) and ESORT's SORT RETURN (RFC 5267 §3):
//
//	sort = ["UID" SP] "SORT" [SP sort-return-opts] SP sort-criteria SP
//	       search-criteria   ; charset SP 1*(SP search-key)
func cmdSort(s *session, tag string, uid bool) error {
	if !uid {
		// Results are sequence numbers (RFC 9051 §7.5.1, as for SEARCH).
		s.allowExpunge = false
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	var ret []imap.SearchReturn
	esort := false
	c, err := s.dec.PeekByte()
	if err != nil {
		return err
	}
	if c == 'R' || c == 'r' {
		a, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		if a != "RETURN" {
			return bad("expected RETURN or sort criteria")
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		esort = true
		err = s.dec.ReadList(true, func() error {
			opt, err := s.dec.ReadAtomUpper()
			if err != nil {
				return err
			}
			switch r := imap.SearchReturn(opt); r {
			case imap.SearchReturnMin, imap.SearchReturnMax, imap.SearchReturnAll, imap.SearchReturnCount, imap.SearchReturnSave:
				ret = append(ret, r)
			default:
				return bad("unknown RETURN option %s", opt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
	}
	// sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
	// sort-criterion = ["REVERSE" SP] sort-key
	var crit []imapsort.Criterion
	err = s.dec.ReadList(false, func() error {
		a, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		reverse := a == "REVERSE"
		if reverse {
			if err := s.dec.SP(); err != nil {
				return err
			}
			if a, err = s.dec.ReadAtomUpper(); err != nil {
				return err
			}
		}
		k, ok := imapsort.ParseKey(a)
		if !ok {
			return bad("unknown sort key %s", a)
		}
		if len(crit) >= maxSortCriteria {
			return bad("too many sort criteria")
		}
		crit = append(crit, imapsort.Criterion{Key: k, Reverse: reverse})
		return nil
	})
	if err != nil {
		return err
	}
	charset, search, err := s.readCharsetSearch()
	if err != nil {
		return err
	}
	if err := checkSortCharset(charset, search); err != nil {
		return err
	}
	// RFC 7162 §3.1.9: MODSEQ in the criteria enables CONDSTORE and adds
	// the highest mod-sequence of the result.
	useModSeq, err := s.modSeqSearch(search)
	if err != nil {
		return err
	}
	msgs, cached, maxModSeq, err := s.sortMessages(search)
	if err != nil {
		return err
	}
	if !useModSeq {
		maxModSeq = 0
	}
	var sorted []*imapsort.Message
	if cached {
		// ALL over the mailbox's sort entry: the order is kept there.
		e := s.sortCache.entry
		sorted = e.memo(sortResultKey('S', crit, false), func() any {
			if len(crit) == 1 {
				// One string criterion: by rank.
				if ranks := e.ranks(crit[0].Key); ranks != nil {
					return imapsort.SortByRank(msgs, ranks, crit[0].Reverse)
				}
			}
			return imapsort.Sort(msgs, crit)
		}).([]*imapsort.Message)
	} else {
		sorted = imapsort.Sort(msgs, crit)
	}
	nums := imapsort.Numbers(sorted, uid)
	if esort {
		return s.writeESort(tag, uid, ret, sorted, nums, maxModSeq)
	}
	w := &s.w
	w.WriteString("* SORT")
	for _, n := range nums {
		w.sp()
		w.num(n)
	}
	if len(nums) > 0 && maxModSeq > 0 {
		w.WriteString(" (MODSEQ ")
		w.num64(maxModSeq)
		w.WriteByte(')')
	}
	w.crlf()
	return nil
}

// THREAD (RFC 5256 §3):
//
//	thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
func cmdThread(s *session, tag string, uid bool) error {
	if !uid {
		s.allowExpunge = false
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	alg, err := s.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	charset, search, err := s.readCharsetSearch()
	if err != nil {
		return err
	}
	var thread func([]imapsort.Message) []*imapsort.Thread
	var algKey imapsort.Key // distinguishes the algorithms in sortResultKey
	switch alg {
	case "ORDEREDSUBJECT":
		thread, algKey = imapsort.OrderedSubject, imapsort.Subject
	case "REFERENCES":
		thread, algKey = imapsort.References, 0
	default:
		return bad("unknown threading algorithm %s", alg)
	}
	if err := checkSortCharset(charset, search); err != nil {
		return err
	}
	// RFC 7162 §3.1.9: THREAD responses are unchanged, but MODSEQ still
	// enables CONDSTORE (and is refused in a NOMODSEQ mailbox).
	if _, err := s.modSeqSearch(search); err != nil {
		return err
	}
	msgs, cached, _, err := s.sortMessages(search)
	if err != nil {
		return err
	}
	w := &s.w
	w.WriteString("* THREAD")
	if cached {
		// ALL over the mailbox's sort entry: the reply is kept there.
		b := s.sortCache.entry.memo(sortResultKey('T', []imapsort.Criterion{{Key: algKey}}, uid), func() any {
			return imapsort.AppendThreads(nil, thread(msgs), uid)
		}).([]byte)
		if len(b) > 0 {
			w.sp()
			w.Write(b)
		}
	} else if threads := thread(msgs); len(threads) > 0 {
		w.sp()
		w.Write(imapsort.AppendThreads(w.AvailableBuffer(), threads, uid))
	}
	w.crlf()
	return nil
}

// sortResultKey names a SORT ('S') or THREAD ('T') result in a sort
// entry's memo: the command, the criteria (or the algorithm) and, for
// THREAD, whether the reply holds UIDs.
func sortResultKey(cmd byte, crit []imapsort.Criterion, uid bool) string {
	b := make([]byte, 0, 2+2*len(crit))
	b = append(b, cmd)
	if uid {
		b = append(b, 'U')
	}
	for _, c := range crit {
		b = append(b, byte(c.Key))
		if c.Reverse {
			b = append(b, 'R')
		} else {
			b = append(b, '.')
		}
	}
	return string(b)
}

// readCharsetSearch reads "SP charset SP search-key *(SP search-key)" and
// the CRLF, the tail shared by SORT and THREAD. The charset is returned
// upper-cased; it is checked after the whole command was read, so that
// NO [BADCHARSET] leaves the session in step.
func (s *session) readCharsetSearch() (string, *imap.SearchCriteria, error) {
	if err := s.dec.SP(); err != nil {
		return "", nil, err
	}
	charset, err := s.dec.ReadAString()
	if err != nil {
		return "", nil, err
	}
	if err := s.dec.SP(); err != nil {
		return "", nil, err
	}
	crit, err := s.dec.ReadSearchCriteria()
	if err != nil {
		return "", nil, err
	}
	if err := s.crlf(); err != nil {
		return "", nil, err
	}
	if crit.HasReturn || crit.Charset != "" {
		// Only search keys may follow the charset of SORT and THREAD.
		return "", nil, bad("RETURN and CHARSET are not search keys")
	}
	return strings.ToUpper(charset), crit, nil
}

// checkSortCharset refuses charsets other than US-ASCII and UTF-8
// (RFC 5256 §3, RFC 9051 §7.1 BADCHARSET), and 8-bit search strings under
// US-ASCII. The decoder has checked that strings are valid UTF-8.
func checkSortCharset(charset string, crit *imap.SearchCriteria) error {
	switch charset {
	case "UTF-8":
		return nil
	case "US-ASCII":
		var err error
		crit.Walk(func(k *imap.SearchKey) bool {
			for i := 0; i < len(k.Value); i++ {
				if k.Value[i] >= 0x80 {
					err = bad("8-bit search string in US-ASCII")
					return false
				}
			}
			return true
		})
		return err
	}
	return &imap.Error{Type: imap.StatusNO, Code: imap.CodeBadCharset, CodeArg: sortCharsets, Text: "Unsupported charset"}
}

// sortMessages runs the search program over the selected mailbox and
// returns what SORT and THREAD need of each match, in sequence order,
// with the header keys from the parse cache.
//
// maxModSeq is the highest mod-sequence of the matches, for the MODSEQ
// result of a search that used the MODSEQ key (RFC 7162 §3.1.9); it is 0
// for a search of ALL, which never needs it.
func (s *session) sortMessages(crit *imap.SearchCriteria) (msgs []imapsort.Message, cached bool, maxModSeq uint64, err error) {
	if len(crit.Keys) == 1 && crit.Keys[0].Op == imap.SearchAll {
		// SORT and THREAD usually search ALL: no key to evaluate, and
		// the sort state of the mailbox may be shared (sort_cache.go).
		e, err := s.sortEntry()
		if err != nil {
			return nil, false, 0, err
		}
		return e.msgs, true, 0, nil
	}
	out := make([]imapsort.Message, 0, len(s.sel.uids))
	err = s.searchMatches(crit, func(m Message, seq uint32) error {
		keys, err := s.sortKeys(m)
		if err != nil {
			return err
		}
		out = append(out, imapsort.Message{SeqNum: seq, UID: m.UID(), InternalDate: m.InternalDate(), Size: m.Size(), Keys: keys})
		maxModSeq = max(maxModSeq, m.ModSeq())
		return nil
	})
	if err != nil {
		return nil, false, 0, err
	}
	return out, false, maxModSeq, nil
}

// sortKeys returns the message's SORT and THREAD keys, computed once per
// message content and kept with its parse.
func (s *session) sortKeys(m Message) (*imapsort.Keys, error) {
	if sm, ok := m.(Summarizer); ok {
		// The store's index has the fields: the message is not opened.
		if sum := sm.Summary(); sum != nil {
			return imapsort.NewKeys(&imapsort.Message{
				Subject: sum.Subject, Date: sum.Date, From: sum.From, To: sum.To, Cc: sum.Cc,
				MessageID: sum.MessageID, References: sum.References, InReplyTo: sum.InReplyTo,
			}), nil
		}
	}
	pm, err := s.parsed(m)
	if err != nil {
		return nil, err
	}
	if k := pm.sortKeys.Load(); k != nil {
		return k, nil
	}
	h := &pm.root.Header
	k := imapsort.NewKeys(&imapsort.Message{
		Subject:    h.Get("Subject"),
		Date:       h.Get("Date"),
		From:       h.Get("From"),
		To:         h.Get("To"),
		Cc:         h.Get("Cc"),
		MessageID:  h.Get("Message-ID"),
		References: h.Get("References"),
		InReplyTo:  h.Get("In-Reply-To"),
	})
	pm.sortKeys.Store(k)
	return k, nil
}

// writeESort writes the ESEARCH response of SORT RETURN (RFC 5267 §3):
// MIN and MAX are the first and last message in the sort order, ALL the
// matches in sort order (ascending runs joined as ranges), COUNT their
// number; SAVE (RFC 5182) keeps the matches for "$".
func (s *session) writeESort(tag string, uid bool, ret []imap.SearchReturn, sorted []*imapsort.Message, nums []uint32, maxModSeq uint64) error {
	has := func(r imap.SearchReturn) bool {
		for _, x := range ret {
			if x == r {
				return true
			}
		}
		return false
	}
	if len(ret) == 0 {
		ret = []imap.SearchReturn{imap.SearchReturnAll} // RFC 4731 §3.1: RETURN () means ALL
	}
	if has(imap.SearchReturnSave) {
		saved := make([]uint32, len(sorted))
		for i, m := range sorted {
			saved[i] = m.UID
		}
		slices.Sort(saved)
		s.sel.searchRes = saved
		if len(ret) == 1 {
			return nil // RFC 5182 §2.4: SAVE alone returns nothing
		}
	}
	w := &s.w
	w.WriteString("* ESEARCH (TAG ")
	w.str(tag)
	w.WriteByte(')')
	if uid {
		w.WriteString(" UID")
	}
	if len(nums) > 0 {
		if has(imap.SearchReturnMin) {
			w.WriteString(" MIN ")
			w.num(nums[0])
		}
		if has(imap.SearchReturnMax) {
			w.WriteString(" MAX ")
			w.num(nums[len(nums)-1])
		}
		if has(imap.SearchReturnAll) {
			w.WriteString(" ALL ")
			w.Write(appendOrderedSet(w.AvailableBuffer(), nums))
		}
	}
	if has(imap.SearchReturnCount) {
		w.WriteString(" COUNT ")
		w.num(uint32(len(nums)))
	}
	if len(nums) > 0 && maxModSeq > 0 {
		// RFC 7162 §3.1.10, RFC 4731 §3.2.
		w.WriteString(" MODSEQ ")
		w.num64(maxModSeq)
	}
	w.crlf()
	return nil
}

// appendOrderedSet writes nums in their order as a sequence-set, joining
// runs of consecutive ascending numbers into ranges ("5:7,2,9").
func appendOrderedSet(b []byte, nums []uint32) []byte {
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUint(b, nums[i])
		if j > i {
			b = append(b, ':')
			b = appendUint(b, nums[j])
		}
		i = j + 1
	}
	return b
}
