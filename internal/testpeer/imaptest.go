package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Imaptest is Dovecot's imaptest program (IMAP compliance scripts and a
// randomised multi-client stress mode), built by
// shared/tools/imaptest/build.sh, which .ci/run runs.
type Imaptest struct {
	Binary string // the imaptest executable
	Tests  string // its folder of compliance scripts (src/tests)
}

// FindImaptest returns the imaptest built by shared/tools/imaptest/build.sh,
// named by POSTHORN_IMAPTEST (the binary's path), or skips the test naming
// how to build it. imaptest links Dovecot's library, so the Debian package
// dovecot-core must be installed too.
func FindImaptest(t testing.TB) *Imaptest {
	t.Helper()
	bin := os.Getenv("POSTHORN_IMAPTEST")
	if bin == "" {
		skip(t, "imaptest not built: run shared/tools/imaptest/build.sh OUTDIR and set POSTHORN_IMAPTEST=OUTDIR/imaptest/src/imaptest (needs Debian packages dovecot-dev dovecot-core)")
	}
	if _, err := os.Stat(bin); err != nil {
		skip(t, "imaptest: POSTHORN_IMAPTEST=%s: %v", bin, err)
	}
	if _, err := os.Stat("/usr/lib/dovecot/libdovecot.so.0"); err != nil {
		skip(t, "imaptest needs libdovecot (Debian package dovecot-core): %v", err)
	}
	tests := filepath.Join(filepath.Dir(bin), "tests")
	if _, err := os.Stat(filepath.Join(tests, "default.mbox")); err != nil {
		skip(t, "imaptest scripts not found beside the binary: %v", err)
	}
	return &Imaptest{Binary: bin, Tests: tests}
}

// Command returns an exec.Cmd running imaptest with args (key=value, as
// imaptest takes them), with Dovecot's library on the search path.
func (it *Imaptest) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(it.Binary, args...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH=/usr/lib/dovecot")
	return cmd
}
