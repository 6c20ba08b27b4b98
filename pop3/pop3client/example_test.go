package pop3client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/posthorn/posthorn/pop3/pop3client"
)

// Download new mail over implicit TLS and leave it on the server.
func ExampleClient() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pop3client.DialTLS(ctx, "pop.example.com:995", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Login picks the strongest SASL mechanism offered in CAPA.
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	list, err := c.Uidl(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range list {
		r, err := c.Retr(ctx, m.Num) // streamed off the socket, dot-unstuffed
		if err != nil {
			log.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.UID, n)
	}
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
}

// Leave mail on the server for 14 days, fetching each message once.
func ExampleClient_Download() {
	ctx := context.Background()
	c, err := pop3client.Dial(ctx, "pop.example.com:110", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(ctx, nil); err != nil {
		log.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	seen := map[string]time.Time{} // load from disk in a real program
	rep, err := c.Download(ctx, pop3client.DownloadOptions{
		Seen: seen,
		Save: func(ctx context.Context, uid string, r io.Reader) error {
			f, err := os.CreateTemp("Maildir/tmp", "msg")
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, r); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return os.Rename(f.Name(), filepath.Join("Maildir/new", filepath.Base(f.Name())))
		},
		DeleteAfter: 14 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Deletions happen at QUIT (RFC 1939 §6).
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("fetched %d, deleted %d, failed %d\n", len(rep.Downloaded), len(rep.Deleted), len(rep.Failed))
}
