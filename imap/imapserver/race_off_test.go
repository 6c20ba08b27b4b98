//go:build !race

package imapserver_test

// raceEnabled reports a -race build, whose instrumentation costs do not
// scale like the code's own: timing checks skip under it.
const raceEnabled = false
