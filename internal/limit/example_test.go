package limit_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/posthorn/posthorn/internal/limit"
)

// A server admits a connection, and slows down password guessing.
func Example() {
	conns := limit.NewConnLimiter(limit.ConnLimits{Max: 1000, PerIP: 1})
	auth := limit.NewAuthLimiter(limit.AuthLimits{})
	client := netip.MustParseAddr("192.0.2.1")

	release, err := conns.Acquire(client)
	if err != nil {
		fmt.Println("421", err)
		return
	}
	defer release()
	if _, err := conns.Acquire(client); err != nil {
		var le *limit.Error
		if errors.As(err, &le) && le.Scope == limit.PerNetwork {
			fmt.Println("421 4.7.0 Too many connections from", le.Network)
		}
	}

	for range 4 {
		if err := auth.Wait(context.Background(), client, "alice"); err != nil {
			return
		}
		auth.Failure(client, "alice") // the password was wrong
	}
	fmt.Println("next attempt waits", auth.Delay(client, "alice"))
	// Output:
	// 421 4.7.0 Too many connections from 192.0.2.1/32
	// next attempt waits 1s
}
