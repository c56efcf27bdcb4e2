package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server of one test's own: initdb'd in a
// temporary directory and listening on a free loopback port, so that the
// test may restart, stop or freeze it without touching any other server.
// It is stopped and removed when the test ends.
type Cluster struct {
	tb    testing.TB
	bin   string // the directory of initdb, pg_ctl and postgres
	dir   string // holds data/, the log and the socket
	port  int
	runAs []string // the command prefix running a tool as the cluster's OS user
}

// startTimeout bounds each start, stop or restart of a cluster.
const startTimeout = 60 * time.Second

// StartCluster starts a private cluster for tb. Without PostgreSQL's
// server binaries (initdb, pg_ctl) it skips, saying why, except under
// CI=true, where it fails. PostgreSQL refuses to run as root: a root test
// runs it as the OS user postgres (or nobody), through setpriv.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := serverBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("a private PostgreSQL cluster is needed and under CI=true the test must run: %v", err)
		}
		tb.Skipf("skipping: this test starts a private PostgreSQL cluster, and %v", err)
	}
	c := &Cluster{tb: tb, bin: bin}
	// Not tb.TempDir(): the cluster's OS user must reach it, and the
	// test's temporary directories are private to the test's user.
	c.dir, err = os.MkdirTemp("", "roster-pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(c.dir) })
	if os.Geteuid() == 0 {
		owner, err := clusterUser()
		if err != nil {
			tb.Fatalf("running as root, PostgreSQL needs another OS user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
		setpriv, err := osexec.LookPath("setpriv")
		if err != nil {
			tb.Skipf("skipping: running as root, the private PostgreSQL cluster is run as %s through setpriv, which is not installed", owner.Username)
		}
		c.runAs = []string{setpriv, "--reuid=" + owner.Uid, "--regid=" + owner.Gid, "--clear-groups", "--"}
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	tb.Cleanup(c.remove)
	c.Start()
	return c
}

// serverBinaries finds the directory of initdb and pg_ctl: the newest
// of Debian's /usr/lib/postgresql/*/bin, or else the PATH's.
func serverBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := osexec.LookPath("initdb"); err == nil && executable(filepath.Join(filepath.Dir(p), "pg_ctl")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL's initdb and pg_ctl are in neither /usr/lib/postgresql/*/bin nor the PATH (apt-get install postgresql)")
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// clusterUser is the OS user a root test runs PostgreSQL as.
func clusterUser() (*user.User, error) {
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return u, nil
		}
	}
	return nil, errors.New("neither the user postgres nor nobody exists")
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) log() string  { return filepath.Join(c.dir, "server.log") }

// run runs one of the server's tools as the cluster's OS user.
func (c *Cluster) run(tool string, args ...string) {
	c.tb.Helper()
	if err := c.try(tool, args...); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *Cluster) try(tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	argv := append(slices.Clone(c.runAs), append([]string{filepath.Join(c.bin, tool)}, args...)...)
	cmd := osexec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		logText, _ := os.ReadFile(c.log())
		return fmt.Errorf("%s %s: %v\n%s\nserver log:\n%s", tool, strings.Join(args, " "), err, out, tail(logText, 3000))
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Start starts the server, on the port it had before if it had one, and
// waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	if c.port == 0 {
		c.port = freePort(c.tb)
	}
	c.run("pg_ctl", "start", "-D", c.data(), "-l", c.log(), "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)),
		"-o", c.options())
}

// options are the server's settings: loopback only, the socket in the
// cluster's own directory, and no flushing to disk, which a test that
// kills the server but not the machine does not need.
func (c *Cluster) options() string {
	return fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c full_page_writes=off -c max_connections=100",
		c.port, c.dir)
}

// Restart restarts the server with pg_ctl restart -m mode (smart, fast or
// immediate) and waits until it accepts connections again.
func (c *Cluster) Restart(mode string) {
	c.tb.Helper()
	c.run("pg_ctl", "restart", "-D", c.data(), "-m", mode, "-l", c.log(), "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)),
		"-o", c.options())
}

// Stop stops the server with pg_ctl stop -m mode.
func (c *Cluster) Stop(mode string) {
	c.tb.Helper()
	c.run("pg_ctl", "stop", "-D", c.data(), "-m", mode, "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)))
}

// remove stops whatever is left of the server.
func (c *Cluster) remove() {
	c.signalAll(syscall.SIGCONT) // a frozen server cannot stop
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		_ = c.try("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w")
	}
}

// Port is the port the server listens on, at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL is the address of the cluster's database postgres as its superuser.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Database creates a database and returns its URL.
func (c *Cluster) Database(name string) string {
	c.tb.Helper()
	exec(c.tb, c.URL(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	u, _ := url.Parse(c.URL())
	u.Path = "/" + name
	return u.String()
}

// Freeze stops every process of the server with SIGSTOP, as a server
// that hangs: connections stay open and nothing answers. thaw resumes
// them (and is also run when the test ends).
func (c *Cluster) Freeze() (thaw func()) {
	c.tb.Helper()
	if n := c.signalAll(syscall.SIGSTOP); n == 0 {
		c.tb.Fatal("freeze: no PostgreSQL process found")
	}
	done := false
	thaw = func() {
		if !done {
			done = true
			c.signalAll(syscall.SIGCONT)
		}
	}
	c.tb.Cleanup(thaw)
	return thaw
}

// signalAll sends sig to the postmaster and to each of its children and
// returns to how many processes.
func (c *Cluster) signalAll(sig syscall.Signal) int {
	pid := c.postmaster()
	if pid == 0 {
		return 0
	}
	pids := append([]int{pid}, children(pid)...)
	n := 0
	for _, p := range pids {
		if syscall.Kill(p, sig) == nil {
			n++
		}
	}
	return n
}

// postmaster is the server's process id, from its postmaster.pid, or 0.
func (c *Cluster) postmaster() int {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// freePort finds a loopback port nothing listens on.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
