package deflate

// huffman is a canonical Huffman code (RFC 1951 §3.2.2): a lookup table
// for codes of up to tableBits bits, and the counts and symbols by code
// for the longer ones (decoded bit by bit).
type huffman struct {
	counts [16]uint16
	syms   [288]uint16 // symbols ordered by code
	table  [1 << tableBits]uint16
}

const tableBits = 9

// build makes the code of the given code lengths (0 = unused symbol).
// Incomplete codes are accepted (a single distance code is common);
// decoding a code that is not assigned is an error.
func (h *huffman) build(lengths []uint8) error {
	*h = huffman{}
	for _, l := range lengths {
		h.counts[l]++
	}
	h.counts[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - int(h.counts[l])
		if left < 0 {
			return corrupt("over-subscribed code")
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.counts[l]
	}
	var next [16]uint32
	code := uint32(0)
	for l := 1; l < 16; l++ {
		next[l] = code
		code = (code + uint32(h.counts[l])) << 1
	}
	for s, l := range lengths {
		if l == 0 {
			continue
		}
		h.syms[offs[l]] = uint16(s)
		offs[l]++
		c := next[l]
		next[l]++
		if l > tableBits {
			continue
		}
		r := reverse(c, uint(l))
		for j := r; j < 1<<tableBits; j += 1 << l {
			h.table[j] = uint16(s)<<4 | uint16(l)
		}
	}
	return nil
}

func reverse(c uint32, n uint) uint32 {
	r := uint32(0)
	for i := uint(0); i < n; i++ {
		r = r<<1 | c&1
		c >>= 1
	}
	return r
}

// decode reads one symbol of h.
func (z *inflater) decode(h *huffman) (int, error) {
	// Load what is there, up to the table's width: at the end of a flushed
	// stream fewer bits remain than the table looks at, and the missing
	// (zero) bits do not matter for a code that is short enough.
	z.need(tableBits)
	if e := h.table[z.bits&(1<<tableBits-1)]; e != 0 {
		l := uint(e & 15)
		if l > z.nbits {
			return 0, errShort
		}
		z.take(l)
		return int(e >> 4), nil
	}
	// A longer code, or none: canonical decoding bit by bit (the code's
	// bits come most significant first).
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		if !z.need(1) {
			return 0, errShort
		}
		code |= int(z.take(1))
		count := int(h.counts[l])
		if code-first < count {
			return int(h.syms[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, corrupt("invalid Huffman code")
}

// The fixed codes (RFC 1951 §3.2.6).
var fixedLit, fixedDist = func() (*huffman, *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	lit, dist := new(huffman), new(huffman)
	if lit.build(l[:]) != nil || dist.build(d[:]) != nil {
		panic("deflate: fixed codes")
	}
	return lit, dist
}()
