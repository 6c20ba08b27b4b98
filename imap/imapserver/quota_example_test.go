package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// A server whose store keeps quotas (imapmem does): GETQUOTAROOT reports
// the user's one quota root, STORAGE in KiB (RFC 9208), and only the user
// AllowSetQuota names may change it with SETQUOTA.
func ExampleServer_AllowSetQuota() {
	store := imapmem.New()
	store.AddUser("admin", "secret")
	store.SetQuota("admin", 10<<20, 1000) // 10 MiB, 1000 messages
	srv := &imapserver.Server{
		Backend:           store,
		AllowInsecureAuth: true, // loopback example only
		AllowSetQuota: func(ctx context.Context, username, root string) bool {
			return username == "admin"
		},
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	br := bufio.NewReader(c)
	br.ReadString('\n') // greeting
	for _, cmd := range []string{"a LOGIN admin secret", `b GETQUOTAROOT INBOX`, `c SETQUOTA "" (STORAGE 20480)`} {
		fmt.Fprintf(c, "%s\r\n", cmd)
		for {
			l, _ := br.ReadString('\n')
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, cmd[:1]+" OK [CAPABILITY") {
				fmt.Println(l)
			}
			if strings.HasPrefix(l, cmd[:2]) {
				break
			}
		}
	}
	// Output:
	// * QUOTAROOT INBOX ""
	// * QUOTA "" (STORAGE 0 10240 MESSAGE 0 1000)
	// b OK GETQUOTAROOT completed
	// * QUOTA "" (STORAGE 0 20480)
	// c OK SETQUOTA completed
}
