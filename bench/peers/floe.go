//go:build peers

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/internal/httpsend"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

const rootPassword = "peers-root-password-1"

// floeNode is a running `floe serve` on a fixed loopback port.
type floeNode struct {
	bin, dir, url string
	port          int
	cmd           *exec.Cmd
	done          chan error
	out           *os.File
}

// httpClient keeps enough idle connections for 16 concurrent clients
// (http.DefaultClient keeps 2 per host), so that every client reuses its
// keep-alive connection as pgx's pool does, and sends each call in one
// write as pgx does (httpsend).
var httpClient = &http.Client{Transport: httpsend.Transport(&http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0})}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// newFloeNode prepares a node with its data in dir (not started).
func newFloeNode(bin, dir string) (*floeNode, error) {
	p, err := freePort()
	if err != nil {
		return nil, err
	}
	return &floeNode{bin: bin, dir: dir, port: p, url: fmt.Sprintf("http://127.0.0.1:%d", p)}, nil
}

// start execs `floe serve` and returns at once; ready waits for it.
func (n *floeNode) start() error {
	out, err := os.OpenFile(filepath.Join(n.dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.out = out
	n.cmd = exec.Command(n.bin, "serve", "--server.listen", fmt.Sprintf("127.0.0.1:%d", n.port),
		"--data_dir", filepath.Join(n.dir, "data"), "--node_id", "peers",
		// Flushes happen when the benchmark asks (FLUSH TABLE), not on a
		// timer in the middle of a measurement.
		"--flush.interval", "1h", "--log.level", "warn")
	n.cmd.Env = append(os.Environ(), "FLOE_ROOT_PASSWORD="+rootPassword)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		return err
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	return nil
}

// stop sends SIGTERM and waits for the exit.
func (n *floeNode) stop() error {
	if n.cmd == nil {
		return nil
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.cmd = nil
		n.out.Close()
		if err != nil {
			return fmt.Errorf("floe serve: %v (log: %s)", err, filepath.Join(n.dir, "serve.log"))
		}
		return nil
	case <-time.After(2 * time.Minute):
		_ = n.cmd.Process.Kill()
		return fmt.Errorf("floe serve did not stop in 2m")
	}
}

func (n *floeNode) tail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "serve.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// floeClient is a logged-in API client (Connect, binary protobuf,
// HTTP/1.1 over loopback, bearer token).
type floeClient struct {
	q     floev1connect.QueryServiceClient
	token string
}

func (n *floeNode) client(token string) *floeClient {
	c := &floeClient{token: token}
	c.q = floev1connect.NewQueryServiceClient(httpClient, n.url, connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+c.token)
				return next(ctx, req)
			}
		})))
	return c
}

// login waits up to timeout for the node to answer and logs in.
func (n *floeNode) login(ctx context.Context, user, password string, timeout time.Duration) (*floeClient, error) {
	a := floev1connect.NewAuthServiceClient(httpClient, n.url)
	deadline := time.Now().Add(timeout)
	for {
		res, err := a.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: user, Password: password}))
		if err == nil {
			return n.client(res.Msg.GetAccessToken()), nil
		}
		if connect.CodeOf(err) != connect.CodeUnavailable && connect.CodeOf(err) != connect.CodeUnknown {
			return nil, fmt.Errorf("login %s: %w", user, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("login %s: %w\n%s", user, err, n.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func params(args []any) []*structpb.Value {
	out := make([]*structpb.Value, len(args))
	for i, a := range args {
		v, err := structpb.NewValue(a)
		if err != nil {
			panic(err)
		}
		out[i] = v
	}
	return out
}

// exec runs SQL and returns the last statement's result.
func (c *floeClient) exec(ctx context.Context, sql string, args ...any) (*floev1.StatementResult, error) {
	res, err := c.q.ExecuteSQL(ctx, connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: sql, Params: params(args)}))
	if err != nil {
		return nil, fmt.Errorf("floe: %s: %w", short(sql), err)
	}
	rs := res.Msg.GetResults()
	if len(rs) == 0 {
		return nil, nil
	}
	return rs[len(rs)-1], nil
}

func (c *floeClient) must(ctx context.Context, sql string, args ...any) *floev1.StatementResult {
	r, err := c.exec(ctx, sql, args...)
	if err != nil {
		fatalf("%v", err)
	}
	return r
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// copyFile copies src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// segmentFiles returns the Parquet files under the node's object store
// whose key contains tableID.
func (n *floeNode) segmentFiles(tableID string) ([]string, error) {
	var files []string
	root := filepath.Join(n.dir, "data", "objects")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, tableID) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
