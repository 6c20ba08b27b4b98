package imapserver_test

import (
	"context"
	"io"
	"io/fs"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// diskFullBackend fails every APPEND the way a file-system store does when
// the disk is full: an *fs.PathError around syscall.ENOSPC.
type diskFullBackend struct{ imapserver.Backend }

func (b diskFullBackend) User(ctx context.Context, name string, info *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := b.Backend.User(ctx, name, info)
	if err != nil {
		return nil, err
	}
	return diskFullUser{u}, nil
}

type diskFullUser struct{ imapserver.User }

func (diskFullUser) Append(ctx context.Context, name string, r io.Reader, size int64, opts imapserver.AppendOptions) (imapserver.AppendResult, error) {
	_, _ = io.Copy(io.Discard, r)
	return imapserver.AppendResult{}, &fs.PathError{Op: "write", Path: "/mail/tmp/1.msg", Err: syscall.ENOSPC}
}

// A store's file-system error is the command's failure, answered NO; the
// session goes on. syscall.Errno implements net.Error, and before the fix
// the server took such an error for a broken connection and closed the
// session without a tagged reply.
func TestBackendErrnoIsNotConnectionError(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.Backend = diskFullBackend{s.Backend}
	})
	c := ts.login()
	c.run(`
C: a1 APPEND INBOX {5+}
C: hello
S: a1 NO ...
C: a2 NOOP
S: a2 OK NOOP completed`)
}
