package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one running `floe serve` process.
type proc struct {
	id, dataDir string
	faults      string // FLOE_FAULT_INJECT, "" for none
	cmd         *exec.Cmd
	url         string
	log         *os.File
	done        chan error
	exitErr     error
	exited      bool
}

var addrLine = regexp.MustCompile(`msg="node started".* addr=(\S+)`)

// serveArgs are the settings every node under test runs with: a short
// writer lease (so that take-overs take seconds) and the store's flags.
var serveArgs = []string{"--lease.duration", "2s", "--lease.request_grace", "300ms"}

// startProc starts `floe serve` as node id on dataDir and waits until it
// serves (or exits: the error carries the tail of its log).
func startProc(bin, logDir, id, dataDir string, takeOver bool, faults string, storeArgs, storeEnv []string) (*proc, error) {
	p := &proc{id: id, dataDir: dataDir, faults: faults, done: make(chan error, 1)}
	args := append([]string{"serve", "--server.listen", "127.0.0.1:0", "--data_dir", dataDir, "--node_id", id}, serveArgs...)
	args = append(args, storeArgs...)
	if takeOver {
		args = append(args, "--lease.take_over=true")
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), storeEnv...)
	p.cmd.Env = append(p.cmd.Env, "FLOE_ROOT_PASSWORD="+rootPassword, "FLOE_FAULT_INJECT="+faults)
	var err error
	if p.log, err = os.OpenFile(filepath.Join(logDir, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(p.log, "=== %s floe %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(args, " "))
	pr, pw := io.Pipe()
	p.cmd.Stdout = p.log
	p.cmd.Stderr = io.MultiWriter(p.log, pw)
	if err := p.cmd.Start(); err != nil {
		p.log.Close()
		return nil, err
	}
	go func() {
		err := p.cmd.Wait()
		pw.Close()
		p.done <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
		return p, nil
	case err := <-p.done:
		p.exited, p.exitErr = true, err
		p.log.Close()
		return nil, fmt.Errorf("node %s exited before serving (%v); log %s:\n%s", id, err, p.log.Name(), tail(p.log.Name(), 15))
	case <-time.After(120 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.log.Close()
		return nil, fmt.Errorf("node %s did not serve within 120s; log %s", id, p.log.Name())
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// stop sends SIGSTOP and returns once every thread of the process is
// stopped (kill(2) returns before threads running on other CPUs have
// stopped), as /proc/<pid>/task/*/stat says: state T.
func (p *proc) stop() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	tasks := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		stopped, err := allStopped(tasks)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not stop within 10s of SIGSTOP", p.id)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread under dir (/proc/<pid>/task) is
// in state T (stopped), or exiting.
func allStopped(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread exited
		}
		if err != nil {
			return false, err
		}
		// pid (comm) state …: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("%s: unexpected stat line %q", e.Name(), b)
		}
		switch b[i+2] {
		case 'T', 'Z', 'X': // stopped, or an exiting thread that runs no more
		default:
			return false, nil
		}
	}
	return true, nil
}

// wait waits up to d for the process to exit and returns its exit error;
// past d it kills the process.
func (p *proc) wait(d time.Duration) error {
	if p.exited {
		return p.exitErr
	}
	select {
	case err := <-p.done:
		p.exited, p.exitErr = true, err
	case <-time.After(d):
		p.cmd.Process.Kill()
		p.exited, p.exitErr = true, <-p.done
		p.exitErr = fmt.Errorf("did not exit within %v: killed (%v)", d, p.exitErr)
	}
	p.log.Close()
	return p.exitErr
}

// kill9 kills the process (SIGKILL) and waits for it.
func (p *proc) kill9() {
	if !p.exited {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		p.wait(time.Minute)
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// apiError is an error answer of the API.
type apiError struct {
	Status     int
	Code, Floe string
	Msg        string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s %s: %s", e.Code, e.Floe, e.Msg) }

// result is the last result of an ExecuteSQL call.
type result struct {
	rows     [][]any
	affected int64
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// execSQL runs sql on the node at url as the holder of token.
func execSQL(ctx context.Context, url, token, sql string) (result, error) {
	b, _ := json.Marshal(map[string]any{"sql": sql})
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/floe.v1.QueryService/ExecuteSQL", bytes.NewReader(b))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return result{}, err
	}
	defer res.Body.Close()
	var out struct {
		Results []struct {
			Rows         [][]any `json:"rows"`
			RowsAffected string  `json:"rowsAffected"`
		} `json:"results"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Debug struct {
				Code string `json:"code"`
			} `json:"debug"`
		} `json:"details"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return result{}, fmt.Errorf("decode the answer (status %d): %w", res.StatusCode, err)
	}
	if res.StatusCode != 200 {
		e := &apiError{Status: res.StatusCode, Code: out.Code, Msg: out.Message}
		if len(out.Details) > 0 {
			e.Floe = out.Details[0].Debug.Code
		}
		return result{}, e
	}
	if len(out.Results) == 0 {
		return result{}, nil
	}
	last := out.Results[len(out.Results)-1]
	r := result{rows: last.Rows}
	if last.RowsAffected != "" {
		r.affected, _ = strconv.ParseInt(last.RowsAffected, 10, 64)
	}
	return r, nil
}

// login returns an access token of user.
func login(ctx context.Context, url, user, password string) (string, error) {
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/floe.v1.AuthService/Login", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", err
	}
	tok, ok := out["accessToken"].(string)
	if res.StatusCode != 200 || !ok {
		return "", fmt.Errorf("login %s: %d %v", user, res.StatusCode, out)
	}
	return tok, nil
}

// wasNotSent reports whether err proves that the request never reached the
// node (nothing listens: the node is down), so the write did not happen.
func wasNotSent(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// unauthenticated reports whether err is the API refusing the token (it
// is checked before the statement runs).
func unauthenticated(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Code == "unauthenticated"
}

// asInt64 converts a JSON cell (int64 is a string in protobuf JSON) to an int64.
func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseInt(x, 10, 64)
	case float64:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	}
	return 0, fmt.Errorf("cell %v (%T) is not an integer", v, v)
}
