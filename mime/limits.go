package mime

import "fmt"

// Default limits used when a Limits field is zero.
const (
	DefaultMaxHeaderBytes  = 256 << 10 // bytes in one header block, blank line included
	DefaultMaxHeaderFields = 2000      // fields in one header block
	DefaultMaxParts        = 10000     // parts in one message, the root included
	DefaultMaxDepth        = 32        // nesting of multiparts and enclosed messages
)

// Limits bounds the work spent on one message. The zero value uses the
// defaults above; a negative field means "no limit".
//
// MaxHeaderBytes and MaxHeaderFields apply to each header block (the
// message's and every part's). MaxParts counts every part of the tree, the
// root, multipart containers and enclosed messages included. MaxDepth counts
// nesting levels: the root is at depth 0, its children at depth 1, the
// root of an enclosed message/rfc822 one level below its container.
//
// Exceeding a limit yields a *LimitError. Readers in this package treat
// MaxHeaderBytes, MaxHeaderFields and MaxDepth as soft (the rest of the
// header is skipped, or the too-deep part is read as an opaque leaf, and the
// error is recorded in Part.Defects); MaxParts is hard: the walk stops.
type Limits struct {
	MaxHeaderBytes  int
	MaxHeaderFields int
	MaxParts        int
	MaxDepth        int
}

func pick(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		// "No limit", kept far from overflow so that callers may add to it.
		return 1<<31 - 1
	}
	return v
}

// headerBytes returns the effective MaxHeaderBytes.
func (l Limits) headerBytes() int { return pick(l.MaxHeaderBytes, DefaultMaxHeaderBytes) }

// headerFields returns the effective MaxHeaderFields.
func (l Limits) headerFields() int { return pick(l.MaxHeaderFields, DefaultMaxHeaderFields) }

// parts returns the effective MaxParts.
func (l Limits) parts() int { return pick(l.MaxParts, DefaultMaxParts) }

// depth returns the effective MaxDepth.
func (l Limits) depth() int { return pick(l.MaxDepth, DefaultMaxDepth) }

// LimitKind names the limit a LimitError is about.
type LimitKind int

// The limits of a Limits value.
const (
	LimitHeaderBytes LimitKind = iota + 1
	LimitHeaderFields
	LimitParts
	LimitDepth
)

// String names the limit ("header bytes", "parts", ...).
func (k LimitKind) String() string {
	switch k {
	case LimitHeaderBytes:
		return "header bytes"
	case LimitHeaderFields:
		return "header fields"
	case LimitParts:
		return "parts"
	case LimitDepth:
		return "nesting depth"
	}
	return fmt.Sprintf("LimitKind(%d)", int(k))
}

// LimitError reports that a message exceeded one of its Limits.
// Use errors.As to recognise it.
type LimitError struct {
	Kind  LimitKind // which limit
	Limit int       // its effective value
	// Offset is the byte offset in the message where the limit was hit, or
	// -1 when unknown.
	Offset int64
}

// Error says which limit was exceeded, and where if known.
func (e *LimitError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("mime: %s limit %d exceeded at offset %d", e.Kind, e.Limit, e.Offset)
	}
	return fmt.Sprintf("mime: %s limit %d exceeded", e.Kind, e.Limit)
}
