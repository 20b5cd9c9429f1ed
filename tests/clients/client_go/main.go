// Command client-go-conformance drives the lab's Kubernetes API with client-go, as a node agent would, and
// prints what it saw as JSON lines on stdout (one {"step": ...} per step, then {"result": ...}). The test
// (tests/clients/client_go_test.ts) runs it inside a lab node and checks the lines.
//
// Usage: client-go-conformance SCENARIO --kubeconfig PATH [flags]
//
// Scenarios: informer, node, eniconfig, protobuf, cbor; and decode-strict FILE (a manifest, strictly). Feature gates come from the environment as
// client-go reads them (KUBE_FEATURE_WatchListClient, KUBE_FEATURE_ClientsAllowCBOR, ...).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// opts are the flags every scenario shares.
type opts struct {
	kubeconfig string
	node       string
	otherNode  string
	namespace  string
	timeout    time.Duration
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: client-go-conformance informer|node|eniconfig|protobuf|cbor --kubeconfig PATH | decode-strict FILE")
	}
	scenario := os.Args[1]
	fs := flag.NewFlagSet(scenario, flag.ExitOnError)
	var o opts
	fs.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig path")
	fs.StringVar(&o.node, "node", "node-0", "the node this agent runs on")
	fs.StringVar(&o.otherNode, "other-node", "node-1", "another node")
	fs.StringVar(&o.namespace, "namespace", "client-go", "namespace for the pods it creates")
	fs.DurationVar(&o.timeout, "timeout", 90*time.Second, "deadline for every wait")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), 4*o.timeout)
	defer cancel()
	var err error
	switch scenario {
	case "informer":
		err = runInformer(ctx, o)
	case "node":
		err = runNode(ctx, o)
	case "eniconfig":
		err = runEniConfig(ctx, o)
	case "protobuf":
		err = runProtobuf(ctx, o)
	case "cbor":
		err = runCbor(ctx, o)
	case "decode-strict":
		err = runDecodeStrict(fs.Arg(0))
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		fail(err.Error())
	}
}

// emit prints one JSON line.
func emit(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(b))
}

func fail(msg string) {
	emit(map[string]any{"error": msg})
	os.Exit(1)
}

// restConfig loads the kubeconfig and records every request the client sends in log.
func restConfig(o opts, log *requestLog) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "client-go-conformance"
	if log != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &loggingTransport{rt: rt, log: log} })
	}
	return cfg, nil
}

// requestLog is every request sent, in order: "METHOD path?query content-type".
type requestLog struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newRequestLog() *requestLog { return &requestLog{added: make(chan struct{}, 1)} }

func (l *requestLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
}

// since returns the lines from index i on.
func (l *requestLog) since(i int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i > len(l.lines) {
		return nil
	}
	return append([]string(nil), l.lines[i:]...)
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

type loggingTransport struct {
	rt  http.RoundTripper
	log *requestLog
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.log.add(fmt.Sprintf("%s %s %s", req.Method, req.URL.RequestURI(), req.Header.Get("Content-Type")))
	return t.rt.RoundTrip(req)
}

// waitLine blocks until stdin gives one line (the test's go-ahead) or ctx ends.
func waitLine(ctx context.Context, in *bufio.Reader) error {
	got := make(chan error, 1)
	go func() {
		_, err := in.ReadString('\n')
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bufioReader wraps bytes for the YAML document reader.
func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
