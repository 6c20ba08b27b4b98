package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIMAPSortCPU compares the server CPU time of SORT and THREAD on a
// loaded mailbox between IMAP servers, one command at a time, with warm
// caches. It runs only when POSTHORN_SORT_SERVERS is set, a comma-separated
// list of name=127.0.0.1:port=pid (user bench/bench, INBOX loaded with
// mailbench imap-load), e.g.
//
//	POSTHORN_SORT_SERVERS=posthorn=127.0.0.1:24243=6259,dovecot=127.0.0.1:24143=$(cat DIR/run/master.pid)
//
// Each server gets one connection; every command is run once to warm the
// server (Dovecot builds its sort and thread indexes then), then
// POSTHORN_SORT_ROUNDS rounds (default 7) run every command on every server,
// the servers' order alternating between rounds (see reselect and change below). The CPU time of a command
// is the change, across the command, of the summed run time
// (/proc/P/task/T/schedstat, nanoseconds) of every thread of the server's
// process tree. Medians are printed with the ratio to the first server, and
// the responses of the servers are compared.
func TestIMAPSortCPU(t *testing.T) {
	spec := os.Getenv("POSTHORN_SORT_SERVERS")
	if spec == "" {
		t.Skip("POSTHORN_SORT_SERVERS not set (see the doc comment)")
	}
	rounds := 7
	if v := os.Getenv("POSTHORN_SORT_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	// POSTHORN_SORT_RESELECT=1 selects the mailbox again (untimed) before
	// every measured command: the first SORT of a selection, which a
	// server's per-session caches do not help.
	reselect := os.Getenv("POSTHORN_SORT_RESELECT") == "1"
	// POSTHORN_SORT_CHANGE=1 appends a message and takes in its EXISTS
	// (untimed) before every measured command: the first SORT after new
	// mail, which no result cached for the unchanged mailbox serves.
	change := os.Getenv("POSTHORN_SORT_CHANGE") == "1"
	cmds := []string{
		"SORT (DATE) UTF-8 ALL",
		"SORT (SUBJECT) UTF-8 ALL",
		"SORT (REVERSE ARRIVAL) UTF-8 ALL",
		"SORT (FROM DATE) UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL",
		"THREAD ORDEREDSUBJECT UTF-8 ALL",
	}
	type server struct {
		name string
		pid  int
		c    *sortConn
	}
	var servers []*server
	for _, s := range strings.Split(spec, ",") {
		f := strings.Split(s, "=")
		if len(f) != 3 || !strings.HasPrefix(f[1], "127.0.0.1:") {
			t.Fatalf("bad server %q: want name=127.0.0.1:port=pid", s)
		}
		pid, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		c, err := dialSort(f[1])
		if err != nil {
			t.Fatalf("%s: %v", f[0], err)
		}
		defer c.conn.Close()
		servers = append(servers, &server{f[0], pid, c})
		t.Logf("%s: %s", f[0], c.exists)
	}
	// Warm-up, and the answers compared.
	for _, cmd := range cmds {
		var first string
		for i, s := range servers {
			data, err := s.c.do(cmd)
			if err != nil {
				t.Fatalf("%s: %s: %v", s.name, cmd, err)
			}
			if i == 0 {
				first = data
			} else if data != first {
				t.Logf("%s: %s answers differently from %s (%d vs %d bytes)", cmd, s.name, servers[0].name, len(data), len(first))
			}
		}
	}
	cpu := make(map[string][]time.Duration) // name + cmd
	for r := 0; r < rounds; r++ {
		for _, cmd := range cmds {
			order := slices.Clone(servers)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				if reselect {
					if _, err := s.c.do("SELECT INBOX"); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				}
				if change {
					msg := fmt.Sprintf("Subject: change %d %s\r\nFrom: Change <c%d@example.org>\r\nDate: Mon, 1 Jan 2024 10:%02d:00 +0000\r\nMessage-ID: <c%d.%s@example.org>\r\n\r\nx\r\n",
						r, cmd, r, r%60, r, strings.ReplaceAll(cmd, " ", "."))
					if _, err := s.c.do(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg)); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
					if _, err := s.c.do("NOOP"); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				}
				before, err := treeCPU(s.pid)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.c.do(cmd); err != nil {
					t.Fatalf("%s: %s: %v", s.name, cmd, err)
				}
				after, err := treeCPU(s.pid)
				if err != nil {
					t.Fatal(err)
				}
				cpu[s.name+"\x00"+cmd] = append(cpu[s.name+"\x00"+cmd], after-before)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server CPU per command, median of %d rounds\n", rounds)
	fmt.Fprintf(&b, "%-34s", "command")
	for _, s := range servers {
		fmt.Fprintf(&b, " %12s", s.name)
	}
	b.WriteString("  ratio\n")
	for _, cmd := range cmds {
		fmt.Fprintf(&b, "%-34s", cmd)
		var base time.Duration
		for i, s := range servers {
			d := cpu[s.name+"\x00"+cmd]
			slices.Sort(d)
			m := d[len(d)/2]
			if i == 0 {
				base = m
			}
			fmt.Fprintf(&b, " %10.2fms", float64(m)/1e6)
			if i > 0 && i == len(servers)-1 && m > 0 {
				fmt.Fprintf(&b, "  %.2f", float64(base)/float64(m))
			}
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
}

type sortConn struct {
	conn   net.Conn
	br     *bufio.Reader
	n      int
	exists string
}

func dialSort(addr string) (*sortConn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &sortConn{conn: conn, br: bufio.NewReaderSize(conn, 1<<20)}
	if _, err := c.br.ReadString('\n'); err != nil {
		return nil, err
	}
	if _, err := c.do("LOGIN bench bench"); err != nil {
		return nil, err
	}
	data, err := c.do("SELECT INBOX")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(data, "\n") {
		if strings.HasSuffix(strings.TrimSpace(l), "EXISTS") {
			c.exists = strings.TrimSpace(l)
		}
	}
	return c, nil
}

// do sends a command and returns its untagged responses; a tagged status
// other than OK is an error.
func (c *sortConn) do(cmd string) (string, error) {
	c.n++
	tag := "s" + strconv.Itoa(c.n)
	c.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := c.conn.Write([]byte(tag + " " + cmd + "\r\n")); err != nil {
		return "", err
	}
	var out strings.Builder
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				return "", fmt.Errorf("%s", strings.TrimSpace(l))
			}
			return out.String(), nil
		}
		out.WriteString(l)
	}
}

// treeCPU returns the CPU time used so far by every thread of pid and its
// descendants, from /proc/P/task/T/schedstat (nanoseconds on the CPU).
func treeCPU(pid int) (time.Duration, error) {
	parent := make(map[int]int)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		p, _ := strconv.Atoi(strings.Fields(s)[0])
		pp, _ := strconv.Atoi(fields[1])
		parent[p] = pp
	}
	if _, ok := parent[pid]; !ok {
		return 0, fmt.Errorf("no process %d", pid)
	}
	var total time.Duration
	for p := range parent {
		q := p
		for q != 0 && q != pid {
			q = parent[q]
		}
		if q != pid {
			continue
		}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", p))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total, nil
}
