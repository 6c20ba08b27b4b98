package imap_test

import (
	"fmt"

	"github.com/posthorn/posthorn/imap"
)

func ExampleParseNumSet() {
	set, err := imap.ParseNumSet("7,1:3,5:*")
	if err != nil {
		panic(err)
	}
	// "*" is the largest number in use: here, 9 messages.
	fmt.Println(set.Contains(8, 9), set.Contains(4, 9))
	fmt.Println(set.Resolve(9))
	// Output:
	// true false
	// 1:3,5:9
}

func ExampleDecodeMailboxName() {
	name, err := imap.DecodeMailboxName("Entw&APw-rfe")
	fmt.Println(name, err)
	_, err = imap.DecodeMailboxName("&AGE-") // "a" needs no encoding
	fmt.Println(err)
	fmt.Println(imap.EncodeMailboxName("Tom & Jerry"))
	// Output:
	// Entwürfe <nil>
	// imap: bad modified UTF-7 mailbox name: printable US-ASCII encoded in a shift
	// Tom &- Jerry
}
