package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// pop3Backend serves POP3 from the INBOX of the shared store. The store
// keeps its own types (imapmem imports nothing of POP3), so this is the
// few-line adapter between the two.
type pop3Backend struct{ store *imapmem.Store }

func (b pop3Backend) OpenMaildrop(ctx context.Context, username string, conn *pop3server.ConnInfo) (pop3server.Maildrop, error) {
	md, err := b.store.OpenMaildrop(ctx, username)
	if errors.Is(err, imapmem.ErrMaildropLocked) {
		// RFC 2449 §8.1.1: another POP3 session holds the maildrop.
		return nil, &pop3.Error{Code: pop3.CodeInUse, Text: "maildrop already in use"}
	}
	if err != nil {
		return nil, err
	}
	return &pop3Maildrop{md: md}, nil
}

// pop3Maildrop maps POP3's string UIDs (the store's UIDL strings) to the
// store's numeric UIDs.
type pop3Maildrop struct {
	md   *imapmem.Maildrop
	uids map[string]uint32
}

func (m *pop3Maildrop) Messages(ctx context.Context) ([]pop3server.Message, error) {
	list := m.md.Messages()
	m.uids = make(map[string]uint32, len(list))
	out := make([]pop3server.Message, len(list))
	for i, msg := range list {
		m.uids[msg.UIDL] = msg.UID
		out[i] = pop3server.Message{UID: msg.UIDL, Size: msg.Size}
	}
	return out, nil
}

func (m *pop3Maildrop) Open(ctx context.Context, uidl string) (io.Reader, error) {
	ra, size, err := m.md.Open(ctx, m.uid(uidl))
	if errors.Is(err, imapserver.ErrNoSuchMessage) {
		// Expunged over IMAP since the snapshot: the server answers
		// "-ERR message is gone" for this error class.
		return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(ra, 0, size), nil
}

func (m *pop3Maildrop) Delete(ctx context.Context, uidls []string) error {
	uids := make([]uint32, 0, len(uidls))
	for _, u := range uidls {
		uids = append(uids, m.uid(u))
	}
	return m.md.Delete(ctx, uids)
}

func (m *pop3Maildrop) Close() error { return m.md.Close() }

// uid returns the store UID for a UIDL string. The server passes only
// UIDLs that Messages listed; 0, never a valid UID, makes the store answer
// "no such message" for anything else.
func (m *pop3Maildrop) uid(uidl string) uint32 { return m.uids[uidl] }
