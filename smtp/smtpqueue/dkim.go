package smtpqueue

import (
	"context"
	"io"

	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// DKIM returns a function for Options.Sign that signs each message with
// opts (RFC 6376, RFC 8463) before it is sent: the queued file is read
// once to hash it, and the message sent is the DKIM-Signature field
// followed by the stored bytes, so nothing is copied and memory stays
// constant. The signature's t= is the time of the attempt.
func DKIM(opts *dkim.SignOptions) func(ctx context.Context, msg smtpclient.Message) (smtpclient.Message, error) {
	return func(ctx context.Context, msg smtpclient.Message) (smtpclient.Message, error) {
		s, err := dkim.NewSigner(opts)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(s, io.NewSectionReader(msg, 0, msg.Size())); err != nil {
			return nil, err
		}
		if err := s.Close(); err != nil {
			return nil, err
		}
		return &prefixed{prefix: []byte(s.Field()), msg: msg}, nil
	}
}

// prefixed is a message with bytes put before it.
type prefixed struct {
	prefix []byte
	msg    smtpclient.Message
}

func (p *prefixed) Size() int64 { return int64(len(p.prefix)) + p.msg.Size() }

func (p *prefixed) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(p.prefix)) {
		n = copy(b, p.prefix[off:])
		if n == len(b) {
			return n, nil
		}
		off = 0
	} else {
		off -= int64(len(p.prefix))
	}
	m, err := p.msg.ReadAt(b[n:], off)
	return n + m, err
}
