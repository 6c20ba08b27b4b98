package smtpclient

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// errCannotDowngrade reports a message that cannot be made 7-bit: 8-bit
// octets in a header, in a binary part or outside any part.
var errCannotDowngrade = errors.New("smtpclient: message cannot be converted to 7bit")

// downgrade8bit returns msg with every 8-bit leaf part re-encoded, text as
// quoted-printable and anything else as base64, and its
// Content-Transfer-Encoding changed accordingly (RFC 6152 §3: a client
// whose next hop lacks 8BITMIME converts or fails). Everything else is
// copied byte for byte. A converted message breaks DKIM signatures over
// the body; that is what RFC 6152 §3 accepts.
func downgrade8bit(msg io.ReaderAt, size int64) ([]byte, error) {
	root, err := mime.Index(msg, size, mime.Limits{})
	if err != nil {
		return nil, err
	}
	d := &downgrader{msg: msg}
	d.out.Grow(int(size + size/3))
	if err := d.part(root); err != nil {
		return nil, err
	}
	if err := d.copy(root.EndOffset, size); err != nil {
		return nil, err
	}
	return d.out.Bytes(), nil
}

type downgrader struct {
	msg io.ReaderAt
	out bytes.Buffer
}

// read returns msg[from:to].
func (d *downgrader) read(from, to int64) ([]byte, error) {
	if to <= from {
		return nil, nil
	}
	b := make([]byte, to-from)
	if n, err := d.msg.ReadAt(b, from); n < len(b) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// copy copies msg[from:to], which must be 7-bit.
func (d *downgrader) copy(from, to int64) error {
	b, err := d.read(from, to)
	if err != nil {
		return err
	}
	if hasHighBit(b) {
		return errCannotDowngrade
	}
	d.out.Write(b)
	return nil
}

// header writes p's header, with Content-Transfer-Encoding set to enc when
// enc is not "".
func (d *downgrader) header(p *mime.Part, enc string) error {
	if enc == "" {
		return d.copy(p.HeaderOffset, p.BodyOffset)
	}
	for _, f := range p.Header.Fields() {
		if strings.EqualFold(f.Key, "Content-Transfer-Encoding") {
			continue
		}
		if hasHighBit(f.Raw) {
			return errCannotDowngrade
		}
		d.out.Write(f.Raw)
	}
	d.out.WriteString("Content-Transfer-Encoding: " + enc + "\r\n\r\n")
	return nil
}

func (d *downgrader) part(p *mime.Part) error {
	// A container declared 8bit becomes 7bit once its contents are.
	enc := ""
	if p.Encoding == "8bit" {
		enc = "7bit"
	}
	switch {
	case len(p.Children) > 0:
		if err := d.header(p, enc); err != nil {
			return err
		}
		pos := p.BodyOffset
		for _, c := range p.Children {
			if err := d.copy(pos, c.HeaderOffset); err != nil {
				return err
			}
			if err := d.part(c); err != nil {
				return err
			}
			pos = c.EndOffset
		}
		return d.copy(pos, p.EndOffset)
	case p.Message != nil:
		if err := d.header(p, enc); err != nil {
			return err
		}
		if err := d.copy(p.BodyOffset, p.Message.HeaderOffset); err != nil {
			return err
		}
		if err := d.part(p.Message); err != nil {
			return err
		}
		return d.copy(p.Message.EndOffset, p.EndOffset)
	}
	body, err := d.read(p.BodyOffset, p.EndOffset)
	if err != nil {
		return err
	}
	if !hasHighBit(body) {
		if err := d.header(p, enc); err != nil {
			return err
		}
		d.out.Write(body)
		return nil
	}
	if p.Encoding != "" && p.Encoding != "7bit" && p.Encoding != "8bit" {
		return errCannotDowngrade // binary, or a broken encoded part
	}
	newEnc, isText := "base64", false
	if p.MediaType == "text" {
		newEnc, isText = "quoted-printable", true
	}
	if err := d.header(p, newEnc); err != nil {
		return err
	}
	w := mime.NewTransferEncoder(&d.out, newEnc, isText)
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}
