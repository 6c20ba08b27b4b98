package deflate

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// inflater decodes a raw DEFLATE stream (RFC 1951). compress/flate's
// reader does not fit an interactive protocol: it hands out the data of a
// block only once it has read the header of the next one, so a peer that
// ends its writes with Z_PARTIAL_FLUSH (isync's mbsync does) — an empty
// fixed-Huffman block, no stored block — is never answered; and its first
// read error is final, so a read deadline used to wake a session (IMAP
// IDLE) would end it.
//
// This decoder returns the output of every block as soon as the block
// ends, never blocks while it holds decoded output, and decodes in atomic
// steps (a block header, one literal, one length/distance pair, a run of
// stored bytes) over its own input buffer: a step that runs out of input
// is undone and retried after more input arrived, so any read error of
// the source, a timeout included, leaves the state intact and a later Read
// goes on. Memory is fixed: the 32 KiB window plus up to outBuffered
// octets of unread output, and at most inBuffer octets of input.
type inflater struct {
	src io.Reader

	in    []byte // input; in[pos:] not yet loaded into bits
	pos   int
	bits  uint64 // loaded bits, least significant first (RFC 1951 §3.1.1)
	nbits uint

	state  uint8
	final  bool // the current block is the last one
	stored int  // octets left in a stored block
	lit    *huffman
	dist   *huffman
	dyn    [2]huffman // the dynamic tables of the current block

	win  []byte // history (up to 32 KiB before rpos) and unread output
	rpos int
	seen int // octets decoded so far, capped at windowSize (valid distances)
	err  error
}

const (
	stHeader  = iota // at a block header
	stStored         // in a stored block
	stHuffman        // in a compressed block
	stDone           // after the final block
)

const (
	windowSize  = 32 << 10 // RFC 1951 §2: distances up to 32768
	outBuffered = 16 << 10 // decoded and unread output that stops decoding
	maxMatch    = 258
	inBuffer    = 4 << 10
)

// errShort is a step that ran out of input; it never leaves the inflater.
var errShort = errors.New("deflate: short input")

// CorruptInputError is returned when the compressed stream is invalid.
type CorruptInputError struct{ Reason string }

func (e *CorruptInputError) Error() string { return "deflate: corrupt input: " + e.Reason }

func corrupt(format string, args ...any) error {
	return &CorruptInputError{Reason: fmt.Sprintf(format, args...)}
}

func newInflater(src io.Reader) *inflater {
	return &inflater{
		src: src,
		in:  make([]byte, 0, inBuffer),
		win: make([]byte, 0, windowSize+outBuffered+2*maxMatch+inBuffer),
	}
}

// Read returns decoded data: what a completed block produced, at once.
func (z *inflater) Read(p []byte) (int, error) {
	for {
		if z.rpos < len(z.win) {
			n := copy(p, z.win[z.rpos:])
			z.rpos += n
			return n, nil
		}
		if z.err != nil {
			return 0, z.err
		}
		if z.state == stDone {
			return 0, io.EOF
		}
		z.compactWindow()
		err := z.run()
		if z.rpos < len(z.win) {
			continue // hand out what was decoded before waiting for more
		}
		switch err {
		case nil:
			continue
		case errShort:
			if err := z.fill(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return 0, err // nothing lost: the next Read goes on
				}
				if err == io.EOF && (z.state != stHeader || z.pos < len(z.in)) {
					err = io.ErrUnexpectedEOF // closed in the middle of a block
				}
				z.err = err
				return 0, err
			}
		default:
			z.err = err
			return 0, err
		}
	}
}

// fill reads more input, keeping the unloaded part.
func (z *inflater) fill() error {
	if z.pos > 0 {
		n := copy(z.in, z.in[z.pos:])
		z.in, z.pos = z.in[:n], 0
	}
	if len(z.in) == cap(z.in) {
		// No step needs this much: a dynamic header is under 600 octets.
		return corrupt("block header too long")
	}
	n, err := z.src.Read(z.in[len(z.in):cap(z.in)])
	z.in = z.in[:len(z.in)+n]
	if n > 0 {
		return nil // an error comes back on the next read
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// compactWindow drops history beyond the window once the buffer is full.
func (z *inflater) compactWindow() {
	if len(z.win)+maxMatch+outBuffered <= cap(z.win) {
		return
	}
	keep := min(z.rpos, max(len(z.win)-windowSize, 0))
	n := copy(z.win, z.win[keep:])
	z.win = z.win[:n]
	z.rpos -= keep
}

type cursor struct {
	pos   int
	bits  uint64
	nbits uint
}

func (z *inflater) save() cursor     { return cursor{z.pos, z.bits, z.nbits} }
func (z *inflater) restore(c cursor) { z.pos, z.bits, z.nbits = c.pos, c.bits, c.nbits }

// need loads input until n bits are available; false when input ran out.
func (z *inflater) need(n uint) bool {
	for z.nbits < n {
		if z.pos >= len(z.in) {
			return false
		}
		z.bits |= uint64(z.in[z.pos]) << z.nbits
		z.pos++
		z.nbits += 8
	}
	return true
}

func (z *inflater) take(n uint) uint32 {
	v := uint32(z.bits & (1<<n - 1))
	z.bits >>= n
	z.nbits -= n
	return v
}

// run decodes until a block ends with output produced, enough output is
// waiting, or input runs out (errShort).
func (z *inflater) run() error {
	for {
		if len(z.win)-z.rpos >= outBuffered || len(z.win)+maxMatch >= cap(z.win) {
			return nil
		}
		var err error
		ended := false
		switch z.state {
		case stHeader:
			err = z.header()
		case stStored:
			ended, err = z.copyStored()
		case stHuffman:
			ended, err = z.symbol()
		case stDone:
			return nil
		}
		if err != nil {
			return err
		}
		if ended {
			if z.final {
				z.state = stDone
			} else {
				z.state = stHeader
			}
			if z.rpos < len(z.win) || z.state == stDone {
				return nil // RFC 4978 §4: the peer flushed here
			}
		}
	}
}

// header reads a block header (RFC 1951 §3.2.3), and for a dynamic block
// its code lengths (§3.2.7), as one step.
func (z *inflater) header() error {
	c := z.save()
	if !z.need(3) {
		return errShort
	}
	final := z.take(1) == 1
	switch z.take(2) {
	case 0: // stored (§3.2.4)
		z.take(z.nbits % 8)
		if !z.need(32) {
			z.restore(c)
			return errShort
		}
		n, nn := z.take(16), z.take(16)
		if n != ^nn&0xffff {
			return corrupt("stored block length check")
		}
		z.stored, z.state = int(n), stStored
	case 1: // fixed Huffman codes (§3.2.6)
		z.lit, z.dist = fixedLit, fixedDist
		z.state = stHuffman
	case 2:
		if err := z.dynamic(); err != nil {
			if err == errShort {
				z.restore(c)
			}
			return err
		}
		z.lit, z.dist = &z.dyn[0], &z.dyn[1]
		z.state = stHuffman
	default:
		return corrupt("reserved block type")
	}
	z.final = final
	return nil
}

// clOrder is the order of the code length code lengths (§3.2.7).
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func (z *inflater) dynamic() error {
	if !z.need(14) {
		return errShort
	}
	nlit := int(z.take(5)) + 257
	ndist := int(z.take(5)) + 1
	nclen := int(z.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return corrupt("too many codes")
	}
	var lengths [286 + 30]uint8
	for i := 0; i < nclen; i++ {
		if !z.need(3) {
			return errShort
		}
		lengths[clOrder[i]] = uint8(z.take(3))
	}
	var clh huffman
	if err := clh.build(lengths[:19]); err != nil {
		return err
	}
	clear(lengths[:19])
	for i := 0; i < nlit+ndist; {
		sym, err := z.decode(&clh)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return corrupt("repeat with no previous length")
			}
			if !z.need(2) {
				return errShort
			}
			rep, val = 3+int(z.take(2)), lengths[i-1]
		case 17:
			if !z.need(3) {
				return errShort
			}
			rep = 3 + int(z.take(3))
		default:
			if !z.need(7) {
				return errShort
			}
			rep = 11 + int(z.take(7))
		}
		if i+rep > nlit+ndist {
			return corrupt("code lengths overflow")
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return corrupt("no end-of-block code")
	}
	if err := z.dyn[0].build(lengths[:nlit]); err != nil {
		return err
	}
	return z.dyn[1].build(lengths[nlit : nlit+ndist])
}

// copyStored copies what input holds of a stored block.
func (z *inflater) copyStored() (bool, error) {
	for z.stored > 0 && z.nbits >= 8 {
		z.win = append(z.win, byte(z.take(8)))
		z.stored--
		z.seen = min(z.seen+1, windowSize)
	}
	if z.stored == 0 {
		return true, nil
	}
	room := cap(z.win) - maxMatch - len(z.win)
	n := min(z.stored, len(z.in)-z.pos, room, outBuffered)
	if n == 0 {
		if z.pos >= len(z.in) {
			return false, errShort
		}
		return false, nil // output room: run returns first
	}
	z.win = append(z.win, z.in[z.pos:z.pos+n]...)
	z.pos += n
	z.stored -= n
	z.seen = min(z.seen+n, windowSize)
	return z.stored == 0, nil
}

// Lengths and distances (RFC 1951 §3.2.5).
var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// symbol decodes one literal, one length/distance pair or the end of
// the block, as one step.
func (z *inflater) symbol() (bool, error) {
	c := z.save()
	sym, err := z.decode(z.lit)
	if err != nil {
		if err == errShort {
			z.restore(c)
		}
		return false, err
	}
	switch {
	case sym < 256:
		z.win = append(z.win, byte(sym))
		z.seen = min(z.seen+1, windowSize)
		return false, nil
	case sym == 256:
		return true, nil
	case sym > 285:
		return false, corrupt("invalid length code")
	}
	i := sym - 257
	if !z.need(uint(lenExtra[i])) {
		z.restore(c)
		return false, errShort
	}
	length := int(lenBase[i]) + int(z.take(uint(lenExtra[i])))
	dsym, err := z.decode(z.dist)
	if err != nil {
		if err == errShort {
			z.restore(c)
		}
		return false, err
	}
	if dsym >= 30 {
		return false, corrupt("invalid distance code")
	}
	if !z.need(uint(distExtra[dsym])) {
		z.restore(c)
		return false, errShort
	}
	dist := int(distBase[dsym]) + int(z.take(uint(distExtra[dsym])))
	if dist > z.seen {
		return false, corrupt("distance too far back")
	}
	// Byte by byte: the source may overlap what is being written.
	from := len(z.win) - dist
	for k := 0; k < length; k++ {
		z.win = append(z.win, z.win[from+k])
	}
	z.seen = min(z.seen+length, windowSize)
	return false, nil
}
