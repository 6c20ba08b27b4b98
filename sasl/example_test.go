package sasl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/posthorn/posthorn/sasl"
)

// users is a credential backend that stores SCRAM keys, never passwords.
type users map[string]map[sasl.SCRAMHash]sasl.SCRAMKeys

func (u users) LookupSCRAM(ctx context.Context, name string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	k, ok := u[name][h]
	if !ok {
		return sasl.SCRAMKeys{}, sasl.ErrUnknownUser
	}
	return k, nil
}

func provision(name, password string) users {
	u := users{name: {}}
	for _, h := range []sasl.SCRAMHash{sasl.SHA1, sasl.SHA256} {
		k, err := sasl.NewSCRAMKeys(h, password, nil, 4096)
		if err != nil {
			panic(err)
		}
		u[name][h] = k
	}
	return u
}

// A client and a server run SCRAM-SHA-256. The loop is what a protocol
// client and server do between them, minus base64 and the network.
func Example() {
	reg := &sasl.Registry{Credentials: provision("alice", "correct horse")}
	cs := sasl.ConnState{TLS: true}

	client, err := sasl.Choose(reg.Offer(cs), sasl.ClientOptions{Username: "alice", Password: "correct horse", TLS: true})
	if err != nil {
		panic(err)
	}
	mech, resp, _ := client.Start()
	server, err := reg.NewServer(mech, cs)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for {
		challenge, done, err := server.Next(ctx, resp)
		if err != nil {
			fmt.Println("failed:", err)
			return
		}
		if done {
			break
		}
		if resp, err = client.Next(challenge); err != nil {
			fmt.Println("client:", err)
			return
		}
	}
	// The server said yes; SCRAM also checks that the server knew the keys.
	if err := client.(sasl.Completer).Complete(); err != nil {
		fmt.Println("server not authenticated:", err)
		return
	}
	id := server.Identity()
	fmt.Println(id.Mechanism, id.Username)
	// Output: SCRAM-SHA-256 alice
}

// A protocol server asks the Registry what to advertise.
func ExampleRegistry_Offer() {
	reg := &sasl.Registry{Credentials: provision("alice", "pw")}

	fmt.Println("before STARTTLS:", reg.Offer(sasl.ConnState{}))
	fmt.Println("after STARTTLS: ", reg.Offer(sasl.ConnState{TLS: true}))
	cb := &sasl.ChannelBinding{Type: sasl.TLSExporter, Data: make([]byte, 32)} // from ChannelBindingFromTLS
	fmt.Println("with binding:   ", reg.Offer(sasl.ConnState{TLS: true, ChannelBinding: cb}))
	// Output:
	// before STARTTLS: [SCRAM-SHA-256 SCRAM-SHA-1]
	// after STARTTLS:  [SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN]
	// with binding:    [SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN]
}

// How a protocol server maps the outcome of an exchange to its replies
// (here SMTP AUTH, RFC 4954).
func ExampleRegistry_NewServer() {
	reg := &sasl.Registry{Credentials: provision("alice", "pw")}
	cs := sasl.ConnState{TLS: true}

	// C: AUTH PLAIN AGFsaWNlAHdyb25n   (base64 of "\x00alice\x00wrong")
	srv, err := reg.NewServer("plain", cs)
	if err != nil {
		fmt.Println("504 5.5.4 Unrecognized authentication type")
		return
	}
	_, done, err := srv.Next(context.Background(), []byte("\x00alice\x00wrong"))
	var pe *sasl.ProtocolError
	switch {
	case done:
		fmt.Println("235 2.7.0 Authentication successful")
	case errors.Is(err, sasl.ErrAuthFailed):
		fmt.Println("535 5.7.8 Authentication credentials invalid")
	case errors.As(err, &pe):
		fmt.Println("501 5.5.2 Malformed authentication data")
	case err != nil:
		fmt.Println("454 4.7.0 Temporary authentication failure")
	}
	// Output: 535 5.7.8 Authentication credentials invalid
}

// Provisioning: derive the keys to store when a user sets a password.
func ExampleNewSCRAMKeys() {
	keys, err := sasl.NewSCRAMKeys(sasl.SHA256, "pencil", []byte("fixed salt, use nil for random"), 4096)
	if err != nil {
		panic(err)
	}
	fmt.Println(keys.Iterations, len(keys.StoredKey), len(keys.ServerKey))
	back, _ := sasl.ParseSCRAMKeys(keys.String())
	fmt.Println(back.String() == keys.String())
	// Output:
	// 4096 32 32
	// true
}

// A client picks the strongest mechanism it may use.
func ExampleChoose() {
	offered := []string{"PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256"}
	c, err := sasl.Choose(offered, sasl.ClientOptions{Username: "alice", Password: "pw", TLS: true})
	if err != nil {
		panic(err)
	}
	mech, _, _ := c.Start()
	fmt.Println(mech)

	// Without TLS, passwords are not sent in the clear.
	_, err = sasl.Choose([]string{"PLAIN", "LOGIN"}, sasl.ClientOptions{Username: "alice", Password: "pw"})
	fmt.Println(errors.Is(err, sasl.ErrUnsupportedMechanism))
	// Output:
	// SCRAM-SHA-256
	// true
}
