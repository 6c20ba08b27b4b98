package imapsort

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
)

// Thread is a node of a THREAD result (RFC 5256 §4): a message, or a dummy
// standing for a message that is missing or was not searched, with its
// replies. Dummies (Msg == nil) occur only at the top level, always with at
// least two children.
type Thread struct {
	Msg      *Message  // the message; nil for a dummy
	Children []*Thread // replies, sorted by sent date

	// Working state of the algorithms.
	parent  *Thread
	date    time.Time // sent date of Msg
	subject string    // casemapped base subject of Msg
	refwd   bool      // Msg's subject marks a reply or forward
	removed bool      // merged away from the root in step 5
	rootIdx int
}

// OrderedSubject threads msgs with THREAD=ORDEREDSUBJECT (RFC 5256 §4):
// messages with the same base subject form one thread, ordered by sent date;
// the first is the root and the others are its children; threads are ordered
// by the sent date of their first message. Ties are broken by sequence number.
func OrderedSubject(msgs []Message) []*Thread {
	nodes := make([]Thread, len(msgs))
	sorted := make([]*Thread, len(msgs))
	for i := range msgs {
		n := &nodes[i]
		n.setMessage(&msgs[i])
		sorted[i] = n
	}
	slices.SortFunc(sorted, func(a, b *Thread) int {
		if r := cmp.Compare(a.subject, b.subject); r != 0 {
			return r
		}
		return compareDate(a, b)
	})
	var roots []*Thread
	for i := 0; i < len(sorted); {
		root := sorted[i]
		j := i + 1
		for j < len(sorted) && sorted[j].subject == root.subject {
			j++
		}
		if j > i+1 {
			root.Children = sorted[i+1 : j : j]
		}
		roots = append(roots, root)
		i = j
	}
	slices.SortFunc(roots, compareDate)
	return roots
}

func (n *Thread) setMessage(m *Message) {
	n.Msg = m
	n.date = m.SentDate()
	if k := m.Keys; k != nil {
		n.subject, n.refwd = k.Subject, k.ReplyOrFwd
		return
	}
	base, refwd := BaseSubject(m.Subject)
	n.subject = CasemapKey(base)
	n.refwd = refwd
}

// first returns the message node that stands for n when sorting: n itself, or
// for a dummy its first child (RFC 5256 §4 steps 4 and 6).
func (n *Thread) first() *Thread {
	for n.Msg == nil && len(n.Children) > 0 {
		n = n.Children[0]
	}
	return n
}

// compareDate orders by sent date, then by sequence number (RFC 5256 §2.2).
func compareDate(a, b *Thread) int {
	a, b = a.first(), b.first()
	if a.Msg == nil || b.Msg == nil { // childless dummies: not after pruning
		switch {
		case a.Msg == b.Msg:
			return 0
		case a.Msg == nil:
			return -1
		}
		return 1
	}
	if r := a.date.Compare(b.date); r != 0 {
		return r
	}
	return cmp.Compare(a.Msg.SeqNum, b.Msg.SeqNum)
}

// References threads msgs with THREAD=REFERENCES (RFC 5256 §4), the six
// steps: link messages by their References (or In-Reply-To) ids, gather the
// roots, prune dummies, sort the roots, merge threads with the same base
// subject, and sort every set of siblings by sent date.
//
// Message ids are compared after removing the angle brackets, comments and
// quoting (so <"a b"@x> equals <a b@x>); an id without "@" is not a msg-id
// (RFC 5322 §3.6.4) and is ignored. Links that would make a loop are not
// made, so every message appears exactly once in the result.
func References(msgs []Message) []*Thread {
	t := threader{ids: make(map[string]*Thread, len(msgs)), arena: make([]Thread, 0, len(msgs)+len(msgs)/2)}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	// "First" in step 1 means lowest sequence number.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(msgs[a].SeqNum, msgs[b].SeqNum) })
	var idbuf []string
	for _, i := range order {
		idbuf = t.step1(&msgs[i], idbuf[:0])
	}

	// Step 2: the messages without parent are the children of the root.
	var roots []*Thread
	for _, chunk := range t.chunks() {
		for i := range chunk {
			if chunk[i].parent == nil {
				roots = append(roots, &chunk[i])
			}
		}
	}
	// Step 3: prune dummies.
	roots = prune(roots, true)
	// Step 4: sort the root's children (a dummy by its first child).
	for _, r := range roots {
		if r.Msg == nil {
			slices.SortFunc(r.Children, compareDate)
		}
	}
	slices.SortFunc(roots, compareDate)
	// Step 5: merge threads by base subject.
	roots = t.mergeSubjects(roots)
	// Step 6: sort every set of siblings, deepest first.
	sortTree(roots)
	slices.SortFunc(roots, compareDate)
	return roots
}

type threader struct {
	ids   map[string]*Thread
	arena []Thread
	full  [][]Thread
}

// node returns a new node from the arena (stable addresses).
func (t *threader) node() *Thread {
	if len(t.arena) == cap(t.arena) {
		t.full = append(t.full, t.arena)
		t.arena = make([]Thread, 0, max(64, cap(t.arena)))
	}
	t.arena = append(t.arena, Thread{})
	return &t.arena[len(t.arena)-1]
}

func (t *threader) chunks() [][]Thread { return append(t.full, t.arena) }

// lookup returns the node of id, creating a dummy if it is unknown.
func (t *threader) lookup(id string) *Thread {
	if n, ok := t.ids[id]; ok {
		return n
	}
	n := t.node()
	t.ids[id] = n
	return n
}

// step1 is RFC 5256 §4 step 1 for one message.
func (t *threader) step1(m *Message, buf []string) []string {
	var self *Thread
	if k := m.Keys; k != nil {
		if k.MessageID != "" {
			buf = append(buf, k.MessageID)
		}
	} else {
		buf = parseIDs(m.MessageID, buf)
	}
	if len(buf) > 0 {
		if n, ok := t.ids[buf[0]]; ok && n.Msg == nil {
			self = n // a dummy made by an earlier reference: this is it
		} else if !ok {
			self = t.node()
			t.ids[buf[0]] = self
		}
	}
	if self == nil {
		// No valid id, or a duplicate: a unique id that nothing refers to.
		self = t.node()
	}
	self.setMessage(m)

	var refs []string
	if k := m.Keys; k != nil {
		refs = append(buf[:0], k.References...)
	} else {
		refs = parseIDs(m.References, buf[:0])
		if len(refs) == 0 {
			if refs = parseIDs(m.InReplyTo, refs); len(refs) > 1 {
				refs = refs[:1] // only the first id of In-Reply-To
			}
		}
	}
	// (A) Link the references as a chain, keeping links already made and
	// never making a loop.
	for i := 0; i+1 < len(refs); i++ {
		p, c := t.lookup(refs[i]), t.lookup(refs[i+1])
		if c.parent == nil && !descends(p, c) {
			link(p, c)
		}
	}
	// (B) The last reference is the parent: any parent from (A) is broken
	// first, then the new link is made unless it would make a loop (as
	// Dovecot does: a message whose last reference is itself ends up
	// without parent); no reference means no parent.
	if len(refs) == 0 {
		unlink(self)
	} else if p := t.lookup(refs[len(refs)-1]); self.parent != p {
		unlink(self)
		if !descends(p, self) {
			link(p, self)
		}
	}
	return refs
}

// descends reports whether a is anc or one of its descendants (so that making
// anc a child of a would close a loop).
func descends(a, anc *Thread) bool {
	for n := a; n != nil; n = n.parent {
		if n == anc {
			return true
		}
	}
	return false
}

func link(p, c *Thread) {
	c.parent = p
	p.Children = append(p.Children, c)
}

func unlink(c *Thread) {
	p := c.parent
	if p == nil {
		return
	}
	if i := slices.Index(p.Children, c); i >= 0 {
		p.Children = slices.Delete(p.Children, i, i+1)
	}
	c.parent = nil
}

// prune is RFC 5256 §4 step 3 on one set of siblings, bottom-up.
func prune(list []*Thread, atRoot bool) []*Thread {
	dummies := false
	for _, n := range list {
		n.Children = prune(n.Children, false)
		dummies = dummies || n.Msg == nil
	}
	if !dummies {
		return list
	}
	out := make([]*Thread, 0, len(list))
	for _, n := range list {
		switch {
		case n.Msg != nil:
			out = append(out, n)
		case len(n.Children) == 0:
			// A dummy without children goes.
		case !atRoot || len(n.Children) == 1:
			// Promote the children, but not to the root unless there is
			// only one.
			for _, c := range n.Children {
				c.parent = n.parent
			}
			out = append(out, n.Children...)
		default:
			out = append(out, n)
		}
	}
	return out
}

// threadSubject is the base subject of a root's message, or of its first
// child for a dummy (RFC 5256 §4 step 5.B.i).
func threadSubject(n *Thread) string {
	if n.Msg == nil {
		if len(n.Children) == 0 {
			return ""
		}
		n = n.Children[0]
	}
	return n.subject
}

// mergeSubjects is RFC 5256 §4 step 5.
func (t *threader) mergeSubjects(roots []*Thread) []*Thread {
	table := make(map[string]*Thread, len(roots))
	for i, r := range roots {
		r.rootIdx = i
		s := threadSubject(r)
		if s == "" {
			continue
		}
		old, ok := table[s]
		if !ok || (old.Msg != nil && (r.Msg == nil || (old.refwd && !r.refwd))) {
			table[s] = r
		}
	}
	for _, r := range slices.Clone(roots) {
		if r.removed {
			continue
		}
		s := threadSubject(r)
		if s == "" {
			continue
		}
		old := table[s]
		if old == r {
			continue
		}
		switch {
		case old.Msg == nil && r.Msg == nil:
			for _, c := range r.Children {
				c.parent = old
			}
			old.Children = append(old.Children, r.Children...)
			r.Children = nil
			r.removed = true
		case old.Msg == nil, r.refwd && !old.refwd:
			link(old, r)
			r.removed = true
		default:
			d := t.node()
			d.rootIdx = old.rootIdx
			roots[d.rootIdx] = d
			link(d, old)
			link(d, r)
			r.removed = true
			table[s] = d
		}
	}
	return slices.DeleteFunc(roots, func(n *Thread) bool { return n.removed })
}

// sortTree sorts the children of every node, deepest first (step 6).
func sortTree(list []*Thread) {
	for _, n := range list {
		if len(n.Children) > 0 {
			sortTree(n.Children)
			slices.SortFunc(n.Children, compareDate)
		}
	}
}

// parseIDs appends the normalised message ids of a Message-ID, References or
// In-Reply-To value to buf.
func parseIDs(v string, buf []string) []string {
	if v == "" {
		return buf
	}
	for _, id := range mime.ParseMessageIDs(v) {
		if strings.ContainsAny(id, `"\`) {
			id = unquote(id)
		}
		if strings.IndexByte(id, '@') <= 0 {
			continue
		}
		buf = append(buf, id)
	}
	return buf
}

// unquote removes the quoting of a quoted local part (RFC 5256 §4: msg-ids
// MUST be normalised).
func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
